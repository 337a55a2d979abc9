"""``inference-watchdog worker``: run the reference ONNX inference worker and build its models.

``python -m watchdog.worker ARGS`` is the same as ``inference-watchdog worker ARGS``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from watchdog.cli.common import CliState, exit_on_error
from watchdog.config.types import parse_byte_size, parse_duration
from watchdog.worker.faults import FAULT_MODES, build_fault_config


def _parse_shape(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        shape = tuple(int(part) for part in value.split(","))
    except ValueError:
        shape = ()
    if not shape or any(dim < 1 for dim in shape):
        raise click.BadParameter(
            f"invalid shape {value!r}: use positive integers separated by commas, such as 64 or 3,224,224"
        )
    return shape


def _parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_byte_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def worker() -> None:
    """Run the reference ONNX inference worker and build its models; restart the supervised one."""


@worker.command("serve")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="ONNX model file to serve [default: the bundled digits model, built on first use].",
)
@click.option("--input-name", help="Model input to feed [default: the model's only input].")
@click.option(
    "--input-shape",
    callback=_parse_shape,
    metavar="N,...",
    help="Shape of one sample without the batch dimension, such as 64 or 3,224,224 "
    "[default: read from the model].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="TCP port; 0 picks a free one (see --port-file).",
)
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the bound port to this file once listening.",
)
@click.option(
    "--model-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for built models [default: the worker.model_cache_dir setting].",
)
@click.option(
    "--fault",
    "faults",
    type=click.Choice(FAULT_MODES),
    multiple=True,
    help="Misbehave on purpose (repeatable): " + ", ".join(FAULT_MODES) + ".",
)
@click.option(
    "--leak-bytes",
    callback=_parse_size,
    metavar="SIZE",
    help="Memory kept per /predict request under the leak fault, such as 1MiB [default: 1MiB].",
)
@click.option(
    "--hang-after",
    type=click.IntRange(min=0),
    metavar="N",
    help="/predict requests served before the hang fault starts [default: 0].",
)
@click.option(
    "--crash-after",
    type=click.IntRange(min=1),
    metavar="N",
    help="Exit with status 1 after responding to this many /predict requests.",
)
@click.option(
    "--slow-ms",
    type=click.FloatRange(min=0),
    metavar="MS",
    help="Milliseconds added to every inference.",
)
@click.option("--pool-size", type=click.IntRange(1, 64), help="Inference threads.")
@click.option("--intra-op-threads", type=click.IntRange(1, 64), help="ONNX Runtime threads per inference.")
@click.option("--queue-size", type=click.IntRange(min=1), help="Batches that may wait for a thread.")
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    help="Requests per second per client address; 0 turns the limit off.",
)
@click.option("--rate-burst", type=click.IntRange(min=1), help="Token bucket size per client.")
@click.option(
    "--cache-ttl",
    callback=_parse_duration,
    metavar="DURATION",
    help="Lifetime of a cached prediction, such as 15m; 0 turns the cache off.",
)
@click.option("--cache-size", type=click.IntRange(min=1), help="Maximum number of cached predictions.")
@click.option("--max-body", callback=_parse_size, metavar="SIZE", help="Largest request body, such as 1MiB.")
@click.option("--max-batch", type=click.IntRange(min=1), help="Maximum number of samples per request.")
@click.option(
    "--shutdown-timeout",
    callback=_parse_duration,
    metavar="DURATION",
    help="How long SIGTERM waits for in-flight requests, such as 10s.",
)
@click.pass_obj
def serve(
    state: CliState,
    *,
    model_path: Path | None,
    input_name: str | None,
    input_shape: tuple[int, ...] | None,
    host: str,
    port: int,
    port_file: Path | None,
    model_cache: Path | None,
    faults: tuple[str, ...],
    leak_bytes: int | None,
    hang_after: int | None,
    crash_after: int | None,
    slow_ms: float | None,
    pool_size: int | None,
    intra_op_threads: int | None,
    queue_size: int | None,
    rate_limit: float | None,
    rate_burst: int | None,
    cache_ttl: timedelta | None,
    cache_size: int | None,
    max_body: int | None,
    max_batch: int | None,
    shutdown_timeout: timedelta | None,
) -> None:
    """Serve POST /predict, GET /healthz and GET /metrics until SIGTERM."""
    from watchdog.worker import digits
    from watchdog.worker.runtime import ModelSpec
    from watchdog.worker.server import run_server
    from watchdog.worker.service import WorkerService

    if model_path is None and (input_name or input_shape):
        raise click.UsageError("--input-name and --input-shape describe a --model file")
    try:
        fault_config = build_fault_config(faults, leak_bytes, hang_after, crash_after, slow_ms)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    options: dict[str, Any] = {
        "model_cache_dir": model_cache.resolve() if model_cache else None,
        "pool_size": pool_size,
        "intra_op_threads": intra_op_threads,
        "queue_size": queue_size,
        "rate_limit": rate_limit,
        "rate_burst": rate_burst,
        "cache_ttl": cache_ttl,
        "cache_max_entries": cache_size,
        "max_body_bytes": max_body,
        "max_batch": max_batch,
        "shutdown_timeout": shutdown_timeout,
    }
    overrides = {"worker": {key: value for key, value in options.items() if value is not None}}
    loaded = state.load(overrides)
    state.setup_logging(loaded)
    settings = loaded.settings.worker
    cache_dir = settings.resolved_model_cache_dir()

    def model_source() -> ModelSpec:
        if model_path is not None:
            return ModelSpec(model_path.resolve(), input_name, input_shape)
        return ModelSpec(digits.ensure_model(cache_dir))

    service = WorkerService(settings, model_source, faults=fault_config)
    with exit_on_error():
        status = run_server(service, host, port, port_file)
    sys.exit(status)


@worker.command("build-model")
@click.option(
    "--model-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for built models [default: the worker.model_cache_dir setting].",
)
@click.pass_obj
def build_model(state: CliState, model_cache: Path | None) -> None:
    """Train the bundled digits model and export it to ONNX, replacing any cached copy."""
    from watchdog.worker import digits

    loaded = state.load()
    state.setup_logging(loaded)
    cache_dir = model_cache or loaded.settings.worker.resolved_model_cache_dir()
    with exit_on_error():
        built = digits.build(cache_dir)
    click.echo(f"{built.path} (held-out accuracy {built.test_accuracy:.4f})")


@worker.command("synth-model")
@click.option(
    "--size",
    "size_bytes",
    callback=_parse_size,
    required=True,
    metavar="SIZE",
    help="Weights to generate, such as 100MB or 400MiB (rounded to whole layers).",
)
@click.option(
    "--hidden", type=click.IntRange(min=1), default=1024, show_default=True, help="Width of each dense layer."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write [default: a name for size, width and seed in the model cache].",
)
@click.pass_obj
def synth_model(state: CliState, size_bytes: int, hidden: int, seed: int, output: Path | None) -> None:
    """Generate a synthetic dense ONNX model of a chosen size with the digits model's input."""
    from watchdog.worker.synthetic import build_synthetic_model, synthetic_file_name

    loaded = state.load()
    state.setup_logging(loaded)
    if output is None:
        cache_dir = loaded.settings.worker.resolved_model_cache_dir()
        output = cache_dir / synthetic_file_name(size_bytes, hidden, seed)
    with exit_on_error():
        model = build_synthetic_model(output, size_bytes, hidden, seed)
    click.echo(f"{model.path} ({model.weight_bytes} bytes of weights, {model.square_layers} layers)")
