"""Ray for ``ingest --ray``: join a cluster or start a private local one, and run the stages on it.

Ray is imported here, lazily, and nowhere else: ``import assistant`` and
every other command never pay for it (``ray.data`` alone takes ~2 s).

Resources: each embedding actor holds one CPU (Ray then sets
``OMP_NUM_THREADS=1`` in it, so N actors run N encoder threads, not N times
all cores); a parse task holds half of one, as parsing is light next to
encoding. A local Ray gets the machine's cores, plus one more logical CPU
when the actors would otherwise take them all, so the parse tasks always
have somewhere to run.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from assistant.errors import AssistantError, BackendError, ConfigError

log = logging.getLogger(__name__)

#: ``--ray`` given without an address: start a private Ray on this machine.
LOCAL = "local"
PARSE_BATCH = 8  # files per parse task
EMBED_CHUNKS = 64  # chunks per embedding call, roughly: one e5 batch (two ONNX ones), across documents
MAX_BLOCKS = 2000  # input blocks; more files share a block
PARSE_CPUS = 0.5
EMBED_CPUS = 1.0
RETRIES = 3  # a failed task is retried, a dead actor restarted, this many times; then the ingest fails
_QUIET = (  # INFO and notices that would drown the progress bar; errors still show
    "ray._private.authentication.authentication_token_setup",
    "ray.data._internal.progress",
    "ray.data._internal.execution.streaming_executor",
    "ray._private.worker",
)


def documents_per_batch(mean_file_bytes: float, chunk_tokens: int) -> int:
    """Documents per embedding call for about ``EMBED_CHUNKS`` chunks, from the files' mean size.

    Why not a fixed count: 32 explainers of a dozen chunks made one call a
    minute of encoding on a slow core, so two actors got one batch each and
    the progress bar sat still; 32 one-chunk notes made calls too small to
    batch well. ~4 bytes of text per token.
    """
    chunks_per_document = max(1.0, mean_file_bytes / (4 * chunk_tokens))
    return max(1, min(256, round(EMBED_CHUNKS / chunks_per_document)))


def actors_that_fit(cpus: float, workers: int) -> int:
    """Embedding actors a cluster of ``cpus`` CPUs runs beside the parse tasks: ``workers`` or fewer.

    Why: actors that take every CPU leave none for the parse tasks that feed
    them, and the pipeline waits forever (seen with 2 actors on 2 CPUs).

    Raises:
        ConfigError: not even one actor and a parse task fit.
    """
    fit = int((cpus - PARSE_CPUS) // EMBED_CPUS)
    if fit < 1:
        raise ConfigError(
            f"The Ray cluster has {cpus:g} CPUs; an ingest needs at least {EMBED_CPUS + PARSE_CPUS:g} (one "
            "embedding actor and a parse task). Add a node (an autoscaling cluster: keep one worker node up), "
            "or use --ray alone for a local Ray."
        )
    if fit < workers:
        log.warning("the Ray cluster has %g CPUs: %d embedding actors, not ASSISTANT_RAY_WORKERS=%d", cpus, fit, workers)
    return min(fit, workers)


def local_cpus(workers: int) -> int:
    """Logical CPUs of a private local Ray: the cores, and room for parse tasks beside ``workers`` actors."""
    cores = os.cpu_count() or 1
    return max(cores, math.ceil(workers * EMBED_CPUS + PARSE_CPUS))


@contextmanager
def ray_cluster(address: str | None, workers: int) -> Iterator[str]:
    """Be connected to Ray for the ``with`` body; yields a description of where.

    Args:
        address: ``None`` or ``"local"``: start a private Ray on 127.0.0.1
            (no dashboard), shut down after. Otherwise ``ray.init``'s address:
            ``ray://HOST:10001`` (Ray Client) or ``HOST:6379`` / ``auto`` from
            a cluster node.
        workers: embedding actors the ingest will start (sizes a local Ray).

    Raises:
        ConfigError: Ray is not installed.
        BackendError: the cluster at ``address`` cannot be joined.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "`assistant ingest --ray` needs Ray, which is not installed; "
            "run pip install 'assistant[ray]' (or pip install 'ray[data]')."
        ) from None
    if ray.is_initialized():  # a caller (a test, a notebook) already joined one: use it, leave it up
        yield "the Ray this process already joined"
        return
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)
    common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address in (None, "", LOCAL):
        # Ray's C++ core logs notices at ERROR level on stderr (Ray Data's actors "have constructor
        # arguments in the object store", every run); failures still reach us as exceptions. Only
        # for our private Ray: a cluster's own errors are for its operator to see.
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        cpus = local_cpus(workers)
        ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **common)
        where = f"a local Ray ({cpus} CPUs)"
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Ray Client's timeout advice: ours below says it
                ray.init(address=address, **common)
        except Exception as exc:  # ConnectionError, TimeoutError, ValueError, RuntimeError, grpc errors
            raise BackendError(
                f"Cannot join the Ray cluster at {address!r} ({type(exc).__name__}: {exc}); check that it is up "
                "and the address (--ray ADDRESS or ASSISTANT_RAY_ADDRESS: ray://HOST:10001 for Ray Client, "
                "HOST:6379 on a cluster node), or use --ray alone for a local Ray."
            ) from None
        where = f"the Ray cluster at {address}"
    try:
        yield where
    finally:
        ray.shutdown()


def embedded_batches(
    rows: list[dict[str, Any]],
    parse: Callable[..., dict[str, list[Any]]],
    parse_kwargs: dict[str, Any],
    embed_class: type,
    make_encoder: Callable[[], Any],
    workers: int,
    embed_batch: int,
) -> Iterator[dict[str, Any]]:
    """Run ``parse`` in Ray tasks and ``embed_class`` in a pool of ``workers`` actors over ``rows``.

    ``embed_batch`` documents go to each embedding call (``documents_per_batch``).

    Yields the embedding stage's column batches as they finish (not in
    ``rows`` order). Must run inside ``ray_cluster``.

    Raises:
        AssistantError: a stage raised one (a worker's encoder failed to
            load, say), re-raised as itself.
        BackendError: a task or actor failed ``RETRIES`` times, or the
            cluster went away.
    """
    import ray
    import ray.data

    actors = actors_that_fit(float(ray.cluster_resources().get("CPU", 0.0)), workers)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own bar (files, chunks/s)
    context.print_on_execution_start = False
    blocks = max(1, min(math.ceil(len(rows) / PARSE_BATCH), MAX_BLOCKS))
    with warnings.catch_warnings():
        # Retry bounds go through ray_remote_args, deprecated for named arguments that
        # Ray 2.60 does not have yet; Ray Data's own default is to retry forever.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = (
            ray.data.from_items(rows, override_num_blocks=blocks)
            .map_batches(parse, batch_size=PARSE_BATCH, batch_format="numpy", fn_kwargs=parse_kwargs,
                         num_cpus=PARSE_CPUS, max_retries=RETRIES)
            .map_batches(embed_class, batch_size=embed_batch, batch_format="numpy",
                         fn_constructor_args=(make_encoder,),
                         compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=EMBED_CPUS,
                         max_restarts=RETRIES, max_task_retries=RETRIES)
        )
    try:
        with warnings.catch_warnings():
            # "received 1 input(s)" for a small corpus: the pool is simply not all needed.
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)
            yield from dataset.iter_batches(batch_size=None, batch_format="numpy")
    except Exception as exc:
        own = _assistant_error(exc)
        if own is not None:
            raise own from None
        if not isinstance(exc, ray.exceptions.RayError) and "ray" not in type(exc).__module__:
            raise
        raise BackendError(
            f"The Ray ingest failed after {RETRIES} retries ({type(exc).__name__}: {_first_line(exc)}). "
            "Documents written before the failure are kept; run the same command again to resume "
            "(finished documents are skipped), or ingest without --ray."
        ) from exc


def _assistant_error(exc: BaseException) -> AssistantError | None:
    """The ``AssistantError`` a worker raised, found in the chain Ray wraps it in."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AssistantError):
            return current
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "no message"
