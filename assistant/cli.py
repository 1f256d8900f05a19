"""The ``assistant`` command: a thin click layer over ``Assistant``."""

from __future__ import annotations

import json
import re
import sys
import time
from functools import wraps
from pathlib import Path

import click

from assistant.errors import AssistantError, ConfigError
from assistant.settings import GENERATORS

RAY_FROM_SETTINGS = "settings"  # `--ray` given alone: ASSISTANT_RAY_ADDRESS, else a local Ray
# What `--ray VALUE` accepts as an address: local, auto, ray://HOST:PORT, HOST:PORT.
_RAY_ADDRESS = re.compile(r"local|auto|[a-z][a-z0-9+.-]*://\S+|[A-Za-z0-9_.-]+:\d{1,5}")


def _handle_errors(fn):
    """Print an AssistantError as one line on stderr and exit 2, without a traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AssistantError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _collection_name(name: str | None) -> str | None:
    """A --collection value, checked here so a bad one is named as the option's, not a setting's."""
    if name is None:
        return None
    from assistant.store.collections import check_name

    return check_name(name)


def _assistant(**overrides):
    from assistant.assistant import Assistant

    return Assistant(**{k: v for k, v in overrides.items() if v is not None})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assistant")
def main() -> None:
    """Answer questions about a folder of documents, with citations to the exact source text."""


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the ingest report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--collection", "-c", default=None, metavar="NAME",
              help="Collection to ingest into (created when new; default: ASSISTANT_COLLECTION).")
@click.option("--watch", is_flag=True,
              help="Then keep the index in sync with PATHS (adds, edits, renames, deletions) until Ctrl-C.")
@click.option("--ray", "ray", is_flag=False, flag_value=RAY_FROM_SETTINGS, default=None, metavar="[ADDRESS]",
              help="Parse and embed on Ray: the cluster at ADDRESS (ray://HOST:10001, HOST:6379, auto), "
              "else ASSISTANT_RAY_ADDRESS, else a private local Ray. Same index as without it.")
@_handle_errors
def ingest(paths: tuple[str, ...], as_json: bool, quiet: bool, collection: str | None, watch: bool,
           ray: str | None) -> None:
    """Index files and folders (.txt, .md, .pdf, .html, .docx); unchanged documents are skipped."""
    ray, paths = _ray_address_and_paths(ray, paths)
    if not paths:
        raise click.UsageError("Missing argument 'PATHS...'.")
    if ray is not None and watch:
        raise click.UsageError("--ray and --watch do not combine: run `ingest --ray PATHS` once, then "
                               "`ingest --watch PATHS` keeps the index in sync in this process.")
    assistant = _assistant(collection=_collection_name(collection))
    if not quiet and not as_json and not assistant.collections.exists(assistant.settings.collection):
        click.echo(f"Creating collection {assistant.settings.collection!r}.", err=True)
    if watch:
        _watch(assistant, paths, as_json)
        return
    if ray is not None:
        report = _ray_ingest(assistant, paths, ray, show_bar=not quiet and not as_json and sys.stderr.isatty())
        _print_report(assistant, report, as_json, quiet)
        return
    bar = None
    progress = None
    if not quiet and not as_json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="chunk", desc="embedding", file=sys.stderr)

        def progress(done: int, total: int, doc_id: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(doc_id)
            bar.refresh()

    report = assistant.ingest(list(paths), progress=progress)
    if bar is not None:
        bar.close()
    _print_report(assistant, report, as_json, quiet)


def _print_report(assistant, report, as_json: bool, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    if report.rebuilt:
        click.echo(f"note: {report.rebuilt}", err=True)
    for err in report.errors:
        reason = err["reason"]
        click.echo(f"refused: {reason}" if reason.startswith(err["path"]) else f"refused {err['path']}: {reason}", err=True)
    if not quiet:
        click.echo(f"Ingested into {assistant.settings.collection_dir}: {report.summary()}")


def _ray_address_and_paths(ray: str | None, paths: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """``--ray``'s address, and the paths: `--ray seeds/` gives the flag no address but a path.

    click hands ``--ray``'s optional value the next word, so a word that is an
    existing path, or does not read as a Ray address, goes back to the paths.
    """
    if ray is None or ray == RAY_FROM_SETTINGS:
        return ray, paths
    if Path(ray).exists() or not _RAY_ADDRESS.fullmatch(ray):
        return RAY_FROM_SETTINGS, (ray, *paths)
    return ray, paths


def _ray_ingest(assistant, paths: tuple[str, ...], ray: str, show_bar: bool):
    """Ingest on Ray with a bar of files done and chunks per second."""
    from assistant.ingest.ray_ingest import ingest_with_ray

    bar = None
    progress = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="file", desc="ingest on ray", file=sys.stderr)
        started = time.monotonic()

        def progress(files: int, total: int, chunks: int) -> None:
            bar.total = total
            bar.n = files
            rate = chunks / max(time.monotonic() - started, 1e-9)
            bar.set_postfix_str(f"{chunks} chunks, {rate:.1f} chunks/s")
            bar.refresh()

    try:
        return ingest_with_ray(assistant, list(paths), None if ray == RAY_FROM_SETTINGS else ray, progress)
    finally:
        if bar is not None:
            bar.close()


def _watch(assistant, paths, as_json: bool) -> None:
    """Catch up, then apply each burst of changes under ``paths`` until Ctrl-C: one line (or JSON) a batch."""
    from assistant.ingest.watch import FolderWatcher

    watcher = FolderWatcher(assistant, paths, on_batch=lambda b: click.echo(
        json.dumps(b.to_dict()) if as_json else b.line()))
    click.echo(f"Watching {', '.join(paths)} for {assistant.settings.collection_dir} (Ctrl-C to stop)", err=True)
    try:
        watcher.run()
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print Answer.to_dict() as JSON, nothing else.")
@click.option("--k", type=click.IntRange(1, 50), default=None, help="Chunks to retrieve.")
@click.option("--llm", type=click.Choice(GENERATORS), default=None,
              help="Generator for this question (default: ASSISTANT_LLM).")
@click.option("--collection", "-c", default=None, metavar="NAME",
              help="Collection to answer from (default: ASSISTANT_COLLECTION).")
@_handle_errors
def ask(question: str, as_json: bool, k: int | None, llm: str | None, collection: str | None) -> None:
    """Answer QUESTION from the indexed documents."""
    assistant = _assistant(llm=llm, collection=_collection_name(collection))
    if as_json:
        answer = assistant.ask(question, k=k)
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    print_answer(assistant.stream(question, k=k))


def print_answer(events):
    """Echo each verified sentence as it arrives, then the sources; return the final ``Answer``.

    Shared by ``ask`` and ``chat`` so a saved conversation reads like a one-off question.
    """
    from assistant.answer import Answer

    answer = None
    for event in events:
        if isinstance(event, Answer):
            answer = event
        else:  # a verified sentence: shown as soon as it passed the judge
            click.echo(event, nl=False)
    click.echo("")
    if answer is not None:
        details = format_details(answer)
        if details:
            click.echo("\n" + details)
    return answer


def citation_lines(citations: list[dict]) -> list[str]:
    """Each citation (``Citation.to_dict()``) as a header line and its exact snippet."""
    lines: list[str] = []
    for c in citations:
        lines.append(f"[{c['id']}] {c['title']} — {c['section']} (chars {c['start']}-{c['end']})")
        lines.append(f"    \"{c['snippet']}\"")
    return lines


def format_details(answer) -> str:
    """What follows the answer text: each citation with its exact snippet, and conflicts."""
    if answer.abstained:
        return ""
    lines = citation_lines([c.to_dict() for c in answer.citations])
    for conflict in answer.conflicts:
        lines.append(f"Note: sources disagree on {conflict.topic}.")
    # A model sentence that failed verification is not news to the reader (only verified
    # sentences were ever shown); `ask --json` keeps it in metadata["fallback"].
    return "\n".join(lines).rstrip()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--watch", multiple=True, metavar="PATH",
              help="Keep the index in sync with this folder while serving (repeatable).")
@_handle_errors
def serve(host: str, port: int, watch: tuple[str, ...]) -> None:
    """Start the chat UI and the HTTP API on one server."""
    from assistant.web.app import run_server

    assistant = None
    if watch:  # in a thread of this process, writing through the Assistant that answers
        from assistant.ingest.watch import FolderWatcher

        assistant = _assistant()
        FolderWatcher(assistant, watch, on_batch=lambda b: click.echo(b.line())).start()
    run_server(host=host, port=port, assistant=assistant)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@_handle_errors
def config(as_json: bool) -> None:
    """Print the effective settings (secrets masked)."""
    from assistant.settings import load_settings

    values = load_settings().public_dict()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    for name, value in values.items():
        click.echo(f"ASSISTANT_{name.upper()}={'' if value is None else value}")


@main.command()
@click.option("--suites-file", default="eval/suites.toml", show_default=True,
              help="Suites whose dev parts choose the threshold (each over its own corpus).")
@click.option("--gold", default=None, help="Calibrate on this one gold file (all items) instead of the suites.")
@click.option("--corpus", default="seeds", show_default=True, help="Folder to index for --gold.")
@click.option("--out", default="eval/reports/calibration", show_default=True, help="Where the curve goes.")
@_handle_errors
def calibrate(suites_file: str, gold: str | None, corpus: str, out: str) -> None:
    """Choose ASSISTANT_ABSTAIN_THRESHOLD and ..._MATCH_THRESHOLD on the suites' dev parts; plot the curve.

    Suites marked ``calibrate = false`` (the unseen one) are left out: they are reported only.
    """
    import tempfile
    from pathlib import Path

    from assistant.evaluation.calibration import calibrate_suites, observe
    from assistant.evaluation.harness import load_gold
    from assistant.evaluation.splits import in_split
    from assistant.evaluation.suites import Suite, load_suites

    chosen_suites = ([Suite(Path(gold).stem, Path(gold), (Path(corpus),))] if gold
                     else [s for s in load_suites(suites_file) if s.calibrate])
    observed = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suite in chosen_suites:
            items = load_gold(suite.gold)
            items = items if gold else in_split(items, "dev")
            assistant = _assistant(index_dir=Path(tmp) / suite.name, llm="extractive")
            assistant.ingest(list(suite.corpus))
            observed[suite.name] = observe(assistant, items)
    result = calibrate_suites(observed, Path(out))
    chosen = result["chosen"]
    match = chosen["match_threshold"]
    click.echo(
        f"threshold {chosen['threshold']:.2f}, match threshold "
        f"{'off' if match is None else format(match, '.3f')}"
        + ("" if match is None else f", {chosen['unmatched_match_threshold']:.3f} when a question noun is in no passage")
        + f" (worst suite): coverage {chosen['coverage']:.3f}, "
        f"abstention accuracy {chosen['abstention_accuracy']:.3f}, "
        f"false abstention {chosen['false_abstention_rate']:.3f}; curve in {out}/abstention_curve.png"
    )


@main.command("eval")
@click.option("--suite", "suites", multiple=True, metavar="NAME",
              help="Suite from --suites-file to run (repeatable; default: every suite).")
@click.option("--suites-file", default="eval/suites.toml", show_default=True,
              help="TOML file naming each suite's gold file, corpus and judge labels.")
@click.option("--gold", default=None, help="Run this one gold JSONL file instead of the suites.")
@click.option("--corpus", multiple=True, default=(),
              help="Folder or file to index for --gold (repeatable; default: seeds).")
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON on stdout.")
@click.option("--out", default="eval/reports/latest", show_default=True,
              help="Report folder (report.md, results.json, PNG plots; one folder per suite); replaced atomically.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Setting override for every configuration, e.g. --set llm=extractive.")
@click.option("--compare", multiple=True, metavar="NAME=KEY=VALUE[,KEY=VALUE]",
              help="Extra configuration to run side by side, e.g. --compare dense=retrieval=dense.")
@click.option("--labels", default=None,
              help="Hand-labelled judge pairs for --gold ('' to skip; suites name their own).")
@click.option("--check", "thresholds", default=None, metavar="TOML",
              help="Exit 1 when the first configuration misses a bound in this thresholds file.")
@click.option("--cache-dir", default=None, help="Where per-configuration indexes live (default: next to the gold file).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N gold items.")
@click.option("--split", type=click.Choice(["all", "dev", "test"]), default="all", show_default=True,
              help="Which part of each gold file to run: dev while tuning (the sealed test numbers are "
              "then neither computed nor printed), test or all to report.")
@click.option("--typed", type=click.Choice(["as-written", "lowercase"]), default="as-written", show_default=True,
              help="Ask the questions as written, or as people often type them (lower case, no '?').")
@click.option("--llm-threads", type=click.IntRange(1, 64), default=None,
              help="CPU threads of the local llama.cpp model (speed only; 1 is fastest on a busy machine).")
@_handle_errors
def eval_command(suites, suites_file, gold, corpus, as_json, out, sets, compare, labels, thresholds, cache_dir,
                 limit, split, typed, llm_threads) -> None:
    """Score answers against gold files (dev and sealed test side by side); write a report with plots."""
    from pathlib import Path

    from assistant.evaluation.harness import (
        EvalConfig,
        load_gold,
        load_thresholds,
        parse_compare,
        parse_overrides,
        run_suites,
    )
    from assistant.evaluation.report import (
        check_out_dir,
        check_suites_out_dir,
        write_report,
        write_suites_report,
    )
    from assistant.evaluation.suites import choose_suites

    chosen = choose_suites(gold, corpus, labels, suites_file, suites)
    for suite in chosen:
        load_gold(suite.gold)  # every file, the report folder and the bounds are checked before any work
    if gold:
        check_out_dir(Path(out))
    else:
        check_suites_out_dir(Path(out), {s.name for s in chosen})
    if thresholds:
        if split != "all" or typed != "as-written":
            from assistant.errors import InputError

            given = " ".join(([f"--split {split}"] if split != "all" else [])
                             + ([f"--typed {typed}"] if typed != "as-written" else []))
            raise InputError(f"--check bounds apply to whole gold files as written, not {given}; "
                             "drop it (or pass --split all --typed as-written) to check them.")
        load_thresholds(thresholds)
    base = parse_overrides(sets)
    configs = [EvalConfig("default", base)]
    configs += [EvalConfig(c.name, {**base, **c.overrides}) for c in map(parse_compare, compare)]
    results, failures = run_suites(chosen, configs, thresholds=thresholds, cache_dir=cache_dir, limit=limit, split=split,
                                   typed=typed, llm_threads=llm_threads, progress=_eval_progress())
    path = write_report(results[chosen[0].name], out) if gold else write_suites_report(results, out)
    if as_json:
        click.echo(json.dumps(results[chosen[0].name] if gold else results, indent=2, ensure_ascii=False))
    else:
        _print_eval(results)
        click.echo(f"\nreport: {path / ('report.md' if gold else 'summary.md')}")
    for failure in failures:
        click.echo(f"threshold failed: {failure}", err=True)
    if failures:
        sys.exit(1)


def _print_eval(results: dict) -> None:
    from assistant.evaluation.report import feedback_line, metrics_table, suites_feedback

    for name, result in results.items():
        part = "" if result.get("split", "all") == "all" else f" ({result['split']} part only)"
        typed = "" if result.get("typed", "as-written") == "as-written" else ", questions typed in lower case"
        click.echo(f"\n## {name}: {result['gold']['n_items']} items{part}{typed}\n")
        click.echo(metrics_table(result["runs"]))
        agreement = result.get("judge_agreement")
        if agreement:
            click.echo(f"\njudge vs {agreement['n']} hand labels: accuracy {agreement['accuracy']:.3f}, "
                       f"kappa {agreement['kappa']:.3f}")
    feedback = suites_feedback(results)
    if feedback is not None:
        click.echo("\n" + feedback_line(feedback))


def _eval_progress():
    """Eval progress on stderr: a tqdm bar per configuration on a terminal, plain lines otherwise."""
    from assistant.evaluation.harness import EvalStep

    if not sys.stderr.isatty():
        return lambda event: click.echo(str(event), err=True)
    from tqdm import tqdm

    bars: dict = {}

    def report(event) -> None:
        if not isinstance(event, EvalStep):
            tqdm.write(str(event), file=sys.stderr)
            return
        bar = bars.get(event.config)
        if bar is None:
            bar = bars[event.config] = tqdm(total=event.total, desc=f"eval {event.config}", unit="q", file=sys.stderr)
        bar.n = event.n
        bar.set_postfix_str(event.item_id)
        bar.refresh()
        if bar.n >= event.total:
            bar.close()
            del bars[event.config]

    return report


@main.command()
@_handle_errors
def mcp() -> None:
    """Serve the documents to MCP clients over stdio (tools: ask, search)."""
    from assistant.mcp_server import run_stdio

    run_stdio()


@main.command()
@click.option("--quick", is_flag=True, help="Small sizes (about 3 minutes) instead of the full run (about 20).")
@click.option("--out", default=None, help="Report folder (default: bench/reports).")
@_handle_errors
def bench(quick: bool, out: str | None) -> None:
    """Run the performance benchmarks; write bench/reports/latest.json, latest.md and plots."""
    import subprocess
    from pathlib import Path

    # The benchmarks live beside the package in the project checkout, not in the wheel.
    script = Path(__file__).resolve().parent.parent / "bench" / "run.py"
    if not script.is_file():
        raise ConfigError(f"{script} not found: `assistant bench` runs from a checkout of the project "
                          "(git clone, then `make bench`).")
    args = [sys.executable, str(script), *(["--quick"] if quick else []), *(["--out", out] if out else [])]
    sys.exit(subprocess.call(args))


# Saved conversations and feedback live in their own module; it reaches back here when a command runs.
from assistant.cli_collections import collections, documents  # noqa: E402
from assistant.cli_conversations import chat, conversations, feedback  # noqa: E402

for _command in (chat, conversations, feedback, collections, documents):
    main.add_command(_command)


if __name__ == "__main__":
    main()
