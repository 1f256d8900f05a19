"""``assistant chat``, ``assistant conversations`` and ``assistant feedback``: saved conversations in a terminal.

A thin click layer over ``Assistant.conversations`` (the same store, checks and
messages as the HTTP API). The terminal is one local user: every command here
acts as ``LOCAL_OWNER``, except the operator's feedback counts and gold export,
which read every owner's ratings. Registered on ``assistant.cli.main``;
``cli`` is looked up when a command runs (it imports this module), so a test
that swaps ``assistant.cli._assistant`` reaches these commands too.
"""

from __future__ import annotations

import json
import os
import sys
from functools import wraps
from pathlib import Path

import click

from assistant.conversations.records import LOCAL_OWNER
from assistant.errors import InputError
from assistant.settings import GENERATORS

CHAT_HELP = "Type a question; /rate up|down [comment] rates the last answer, /correct TEXT corrects it, /quit ends."


def _count(n: int, noun: str) -> str:
    """``1 turn``, ``2 turns``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _handle_errors(fn):
    """``assistant.cli._handle_errors``, taken when the command runs (cli imports this module)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from assistant.cli import _handle_errors as handle

        return handle(fn)(*args, **kwargs)

    return wrapper


def _assistant(**overrides):
    from assistant import cli

    return cli._assistant(**overrides)


def _store():
    return _assistant().conversations


# ----- chat --------------------------------------------------------------------------------
@click.command()
@click.option("--resume", default=None, metavar="ID", help="Continue a saved conversation (see `assistant conversations`).")
@click.option("--llm", type=click.Choice(GENERATORS), default=None,
              help="Generator for this session (default: ASSISTANT_LLM).")
@click.option("-k", "--k", "k", type=click.IntRange(1, 50), default=None, help="Chunks to retrieve per question.")
@_handle_errors
def chat(resume: str | None, llm: str | None, k: int | None) -> None:
    """Ask questions line by line from stdin; every answer is saved as a turn of one conversation.

    Works piped (no terminal needed) and ends on end of input, /quit or /exit.
    """
    assistant = _assistant(llm=llm)
    store = assistant.conversations
    if resume is not None:
        conversation = store.get(resume, LOCAL_OWNER)
        last_turn = conversation.turns[-1].id if conversation.turns else None
        click.echo(f"Resuming conversation {conversation.id} ({_count(conversation.turn_count, 'turn')}): {conversation.title}")
    else:
        conversation = store.create(LOCAL_OWNER)
        last_turn = None
        click.echo(f"Conversation {conversation.id} (new).")
    click.echo(CHAT_HELP)
    turns = conversation.turn_count
    try:
        for line in _lines():
            if line in ("/quit", "/exit"):
                break
            if line.startswith("/"):
                _chat_command(store, line, last_turn)
                continue
            try:
                answer = _print_answer(assistant.stream(line, k=k, conversation_id=conversation.id, owner=LOCAL_OWNER))
            except InputError as exc:  # a bad question is this line's problem, not the session's
                click.echo(f"error: {exc}", err=True)
                continue
            if answer is not None and answer.metadata.get("turn_id"):
                last_turn = answer.metadata["turn_id"]
                turns += 1
                click.echo(f"turn {last_turn}")
    finally:
        _end_chat(store, conversation.id, turns, new=resume is None)


def _lines():
    """Non-blank lines of stdin, with a prompt only when a person is typing."""
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("> ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and not line:
            return  # end of piped input
        if line.strip():
            yield line.strip()


def _print_answer(events):
    from assistant.cli import print_answer

    return print_answer(events)


def _chat_command(store, line: str, last_turn: str | None) -> None:
    """``/rate up|down [comment]``, ``/correct TEXT`` or ``/help``; a mistake is reported, the session goes on."""
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    if name == "/help":
        click.echo(CHAT_HELP)
        return
    if name not in ("/rate", "/correct"):
        click.echo(f"error: unknown command {name!r}. {CHAT_HELP}", err=True)
        return
    if last_turn is None:
        click.echo("error: nothing to rate yet; ask a question first.", err=True)
        return
    try:
        if name == "/rate":
            rating, _, comment = rest.partition(" ")
            if rating not in ("up", "down"):
                raise InputError(f"/rate takes 'up' or 'down' then an optional comment, got {rest[:40]!r}.")
            store.add_feedback(last_turn, rating, LOCAL_OWNER, comment=comment or None)
            click.echo(f"Rated turn {last_turn} {rating}.")
        else:
            if not rest:
                raise InputError("/correct takes the right answer, e.g. /correct The quota was cut in 2010.")
            # "/rate down why" then "/correct ...": the correction keeps the comment said just before.
            previous = store.get_turn(last_turn, LOCAL_OWNER).feedback
            store.add_feedback(last_turn, "down", LOCAL_OWNER, correction=rest,
                               comment=previous.comment if previous else None)
            click.echo(f"Saved a correction of turn {last_turn} (`assistant feedback export` makes it a gold line).")
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)


def _end_chat(store, conversation_id: str, turns: int, new: bool) -> None:
    """Say how to resume; a new conversation that got no answer is not kept."""
    if new and turns == 0:
        store.delete(conversation_id, LOCAL_OWNER)
        click.echo(f"Conversation {conversation_id} had no answers and was not kept.")
        return
    click.echo(f"Conversation {conversation_id} saved ({_count(turns, 'turn')}); "
               f"resume with `assistant chat --resume {conversation_id}`.")


# ----- conversations -----------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def conversations(ctx: click.Context, as_json: bool) -> None:
    """List, show, export, rename or delete saved conversations (no subcommand: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_conversations, as_json=as_json)


@conversations.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@_handle_errors
def list_conversations(as_json: bool) -> None:
    """Your conversations, the most recently used first: id, turns, last used, title."""
    records = _store().list(LOCAL_OWNER)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo("No saved conversations; start one with `assistant chat`.", err=True)
    for r in records:
        click.echo(f"{r.id}\t{r.turn_count} turns\t{_when(r.updated_at)}\t{r.title or '(untitled)'}")


@conversations.command("show")
@click.argument("conversation_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the conversation with every turn as JSON.")
@_handle_errors
def show_conversation(conversation_id: str, as_json: bool) -> None:
    """Every turn of conversation ID: question, answer, sources, rating and the turn id to rate it by."""
    record = _store().get(conversation_id, LOCAL_OWNER)
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2, ensure_ascii=False))
        return
    from assistant.cli import citation_lines

    click.echo(f"# {record.title or '(untitled)'}")
    click.echo(f"{record.id}: {record.turn_count} turns, started {_when(record.created_at)}, "
               f"last used {_when(record.updated_at)}")
    for turn in record.turns:
        click.echo(f"\n[{turn.position + 1}] turn {turn.id} · {_when(turn.created_at)} · {turn.generator}")
        click.echo(f"Q: {turn.question}")
        click.echo(f"A: {str(turn.answer.get('text', '')).strip()}")
        if not turn.abstained:
            for line in citation_lines(turn.answer.get("citations") or []):
                click.echo(f"   {line}")
        if turn.feedback:
            fb = turn.feedback
            extra = "".join(f"; {name}: {value}" for name, value in
                            (("comment", fb.comment), ("correction", fb.correction)) if value)
            click.echo(f"   rated {fb.rating}{extra}")


@conversations.command("export")
@click.argument("conversation_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(("md", "json")), default="md", show_default=True)
@click.option("--out", default=None, metavar="FILE", help="Write to FILE instead of stdout.")
@_handle_errors
def export_conversation(conversation_id: str, fmt: str, out: str | None) -> None:
    """Conversation ID as Markdown (questions, answers, numbered sources with snippets) or JSON."""
    from assistant.conversations.export import export

    text, _media_type = export(_store().get(conversation_id, LOCAL_OWNER), fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    _write(out, text)
    click.echo(f"Wrote {out}", err=True)


@conversations.command("rename")
@click.argument("conversation_id", metavar="ID")
@click.argument("title")
@_handle_errors
def rename_conversation(conversation_id: str, title: str) -> None:
    """Give conversation ID a new TITLE."""
    record = _store().rename(conversation_id, title, LOCAL_OWNER)
    click.echo(f"Renamed {record.id}: {record.title}")


@conversations.command("delete")
@click.argument("conversation_id", metavar="ID")
@_handle_errors
def delete_conversation(conversation_id: str) -> None:
    """Delete conversation ID with its turns and their feedback (no undo)."""
    _store().delete(conversation_id, LOCAL_OWNER)
    click.echo(f"Deleted {conversation_id}")


# ----- feedback ----------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def feedback(ctx: click.Context, as_json: bool) -> None:
    """Ratings of saved answers (no subcommand: the counts, per ISO week too)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(feedback_counts, as_json=as_json)


@feedback.command("counts")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@_handle_errors
def feedback_counts(as_json: bool) -> None:
    """Up and down ratings (the latest per answer, every user), down ones with a correction, per week."""
    counts = _store().feedback_counts()
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    click.echo(f"up {counts['up']}, down {counts['down']} ({counts['down_with_correction']} with a correction)")
    if counts["weeks"]:
        click.echo("\nweek        up  down")
        for week, c in counts["weeks"].items():
            click.echo(f"{week:<10} {c['up']:>4} {c['down']:>5}")


@feedback.command("export")
@click.option("--out", required=True, metavar="FILE", help="The gold JSONL file to write (replaced).")
@_handle_errors
def feedback_export(out: str) -> None:
    """Write the down-rated answers that carry a correction as gold lines for `assistant eval --gold FILE`."""
    from assistant.conversations.export import gold_lines

    down = _store().rated_turns("down")
    lines = gold_lines(down)
    _write(out, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    if not lines:
        click.echo(f"Wrote 0 gold lines to {out}: no down-rated answer carries a correction yet "
                   "(`/correct TEXT` in `assistant chat`, or `assistant feedback add TURN_ID --rating down "
                   "--correction TEXT`).")
        return
    click.echo(f"Wrote {_count(len(lines), 'gold line')} to {out} (of {_count(len(down), 'down-rated answer')}; "
               "the others have no correction).")
    click.echo(f"Score them with `assistant eval --gold {out}` (add --corpus for your own documents).")


@feedback.command("add")
@click.argument("turn_id", metavar="TURN_ID")
@click.option("--rating", type=click.Choice(("up", "down")), required=True)
@click.option("--comment", default=None, help="Why (free text).")
@click.option("--correction", default=None, help="The right answer (with --rating down).")
@click.option("--fact", "facts", multiple=True, metavar="F",
              help="A fact the right answer must state (repeatable; a required fact of the gold line).")
@click.option("--source", "sources", multiple=True, metavar="DOC",
              help="A document id that holds the answer (repeatable; see `assistant documents`).")
@_handle_errors
def feedback_add(turn_id: str, rating: str, comment: str | None, correction: str | None,
                 facts: tuple[str, ...], sources: tuple[str, ...]) -> None:
    """Rate the answer of TURN_ID (printed by `assistant chat` and `assistant conversations show`)."""
    record = _store().add_feedback(turn_id, rating, LOCAL_OWNER, comment=comment, correction=correction,
                                   facts=list(facts) or None, sources=list(sources) or None)
    click.echo(f"Rated turn {record.turn_id} {record.rating}" + (" with a correction." if record.correction else "."))


# ----- helpers -----------------------------------------------------------------------------
def _when(iso: str) -> str:
    """``2026-11-23T16:47:29.123+00:00`` -> ``2026-11-23 16:47`` (UTC)."""
    return iso[:16].replace("T", " ")


def _write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temp file renamed into place)."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"--out {path!r} is a folder; pass a file name.", field="out")
    if not target.parent.is_dir():
        raise InputError(f"--out {path!r}: the folder {str(target.parent)!r} does not exist; create it first.",
                         field="out")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"Cannot write --out {path!r}: {exc.strerror}; pass a writable path.", field="out") from exc
