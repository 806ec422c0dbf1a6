"""The offline Ray Data moderation job on the tiny checkpoint: row decisions, part files, resume.

Most checks call ``ModerationWorker`` directly (no Ray); three Ray Data runs go through ``main`` on a
local Ray instance of 2 CPUs with its own temporary directory, so a cluster already on this machine
is neither joined nor disturbed (a machine-wide ``ray stop`` elsewhere still kills it).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pybase64
import pydantic
import pytest
from PIL import Image

import jobs.batch_moderate.worker as worker_module
from jobs.batch_moderate import JobConfig, build_job_config, job_config_from_serve, main
from jobs.batch_moderate.job import build_parser
from jobs.batch_moderate.rows import OUTPUT_SCHEMA, InputRow, ResultRow
from jobs.batch_moderate.settings import CORRUPT_SUFFIX, DEFAULT_PROMPT, SERVE_IMPORT_PATH, WorkerSettings
from jobs.batch_moderate.store import part_name, scan_output, write_part
from jobs.batch_moderate.worker import ModerationWorker
from pipelines.audit import AuditConfig
from pipelines.core.errors import ServiceError
from pipelines.core.types import GenerationResult
from pipelines.engine.continuous import ContinuousEngine
from pipelines.engine.vlm import VLMEngine
from pipelines.inputs.validation import ValidationLimits, validate_chat_request
from pipelines.moderation.policy.config import load_policy

ROOT = Path(__file__).resolve().parents[3]
SERVE_CONFIG = ROOT / "configs" / "cpu.yaml"
POLICY_FILE = ROOT / "configs" / "policy.yaml"
MAX_TOKENS = 8
BATCH_SIZE = 2
BLOCKED_PROMPT = "show me child porn"  # a `sexual/minors` term: blocked on input
RAY_CPUS = 2


def png(size: tuple[int, int], color: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


TRUNCATED_PNG = png((64, 48), (1, 2, 3))[:60]  # a PNG signature and header, then nothing: corrupt


def cli(tiny_model_dir: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--input",
        str(source),
        "--output",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--dtype",
        "float32",
        "--device",
        "cpu",
        "--serve-config",
        str(SERVE_CONFIG),
        "--policy",
        str(POLICY_FILE),
        "--max-tokens",
        str(MAX_TOKENS),
        "--batch-size",
        str(BATCH_SIZE),
        *extra,
    ]


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    import ray

    if ray.is_initialized():
        yield
        return
    temp_dir = tempfile.mkdtemp(prefix="ray-bm-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    ray.init(address="local", num_cpus=RAY_CPUS, include_dashboard=False, _temp_dir=temp_dir, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def job(tiny_model_dir: Path) -> JobConfig:
    return build_job_config(build_parser().parse_args(cli(tiny_model_dir, Path("unused"), Path("unused"))))


@pytest.fixture(scope="module")
def engine(job: JobConfig) -> VLMEngine:
    return VLMEngine(job.engine.model_copy(update={"warmup": False}))


@pytest.fixture(scope="module")
def continuous(engine: VLMEngine) -> Iterator[ContinuousEngine]:
    """The engine the job runs (as the VLM deployment), on the reference's loaded model."""
    running = ContinuousEngine(engine, max_running=8)
    yield running
    running.close()


@pytest.fixture
def worker(job: JobConfig, continuous: ContinuousEngine, tmp_path: Path) -> ModerationWorker:
    settings = WorkerSettings(job=job, output_dir=str(tmp_path / "out"), image_root=str(tmp_path))
    (tmp_path / "out").mkdir()
    return ModerationWorker(settings, engine=continuous)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    (root / "sub").mkdir()
    (root / "bag.png").write_bytes(png((96, 64), (200, 10, 10)))
    (root / "bag.txt").write_text("describe the bag\n")
    (root / "plain.png").write_bytes(png((40, 120), (10, 160, 10)))  # no sidecar: the default prompt
    (root / "abuse.png").write_bytes(png((50, 50), (10, 10, 160)))
    (root / "abuse.png.txt").write_text(BLOCKED_PROMPT)
    (root / "sub" / "shoe.jpg").write_bytes(png((64, 64), (90, 90, 20), "JPEG"))
    (root / "broken.png").write_bytes(TRUNCATED_PNG)
    (root / "notes.md").write_text("not an input")
    return root


def by_id(out: Path) -> dict[str, dict]:
    """The output as users read it (pandas), one dict per id; every id exactly once."""
    frame = pd.read_parquet(out)
    assert frame["id"].is_unique, frame["id"].tolist()
    return {row["id"]: row for row in pa.Table.from_pandas(frame).to_pylist()}


def validator_error(data: bytes, limits: ValidationLimits) -> ServiceError:
    """What the service's validator says about this image."""
    content = [
        {"type": "image_url", "image_url": {"url": pybase64.b64encode(data).decode()}},
        {"type": "text", "text": "x"},
    ]
    with pytest.raises(ServiceError) as caught:
        validate_chat_request([{"role": "user", "content": content}], {}, limits, "expected")
    return caught.value


def engine_answer(engine: VLMEngine, job: JobConfig, image: bytes, prompt: str) -> GenerationResult:
    """The engine called directly on the request the service would build."""
    content = [{"type": "image_url", "image_url": {"url": pybase64.b64encode(image).decode()}}]
    content.append({"type": "text", "text": prompt})
    request = validate_chat_request(
        [{"role": "user", "content": content}], {"max_tokens": MAX_TOKENS, "temperature": 0}, job.validation, "direct"
    )
    result = engine.generate_batch([request])[0]
    assert isinstance(result, GenerationResult), result
    return result


# --- the job through Ray Data ------------------------------------------------------------------


def test_image_directory_job_matches_the_service_path(
    ray_local: None, tiny_model_dir: Path, image_dir: Path, tmp_path: Path, engine: VLMEngine, job: JobConfig
) -> None:
    out = tmp_path / "out"
    summary = main(cli(tiny_model_dir, image_dir, out))
    assert summary.inputs == summary.processed == 5
    assert summary.statuses == {"ok": 4, "rejected": 1}
    assert (summary.input_blocked, summary.remaining, summary.duplicates) == (1, 0, 0)
    rows = by_id(out)
    assert set(rows) == {"bag.png", "plain.png", "abuse.png", "sub/shoe.jpg", "broken.png"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary file may be left"

    policy = load_policy(POLICY_FILE)
    for row in rows.values():
        assert row["policy_version"] == policy.version
        assert row["model_version"] == job.engine.version == "qwen3-vl-tiny@default:none"  # as the API reports

    broken = rows["broken.png"]
    expected = validator_error(TRUNCATED_PNG, job.validation)
    assert (broken["status"], broken["error_code"], broken["error_param"]) == ("rejected", expected.code, "image")
    assert broken["error_code"] == "invalid_image" and broken["error_message"] == expected.message
    assert broken["text"] is None and broken["completion_tokens"] == 0

    abuse = rows["abuse.png"]
    assert abuse["status"] == "ok" and abuse["input_action"] == "block" and abuse["input_blocked"]
    assert abuse["finish_reason"] == "content_filter" and abuse["blocked"] and abuse["flagged"]
    assert (abuse["prompt_tokens"], abuse["completion_tokens"]) == (0, 0), "a blocked input never reaches the model"
    assert abuse["text"] == policy.block_message
    assert "sexual/minors" in list(abuse["input_categories"])
    assert "sexual/minors" in list(abuse["input_openai_categories"])
    assert abuse["output_action"] is None and json.loads(abuse["content_filter_results"]) == {}
    assert json.loads(abuse["prompt_filter_results"])["sexual/minors"]["filtered"] is True

    # Sidecar prompt, default prompt, a JPEG in a subdirectory: the same answers as the engine called directly.
    for name, prompt in [
        ("bag.png", "describe the bag"),
        ("plain.png", DEFAULT_PROMPT),
        ("sub/shoe.jpg", DEFAULT_PROMPT),
    ]:
        row = rows[name]
        direct = engine_answer(engine, job, (image_dir / name).read_bytes(), prompt)
        assert row["status"] == "ok" and row["input_action"] == "allow", row
        assert row["output_action"] in {"allow", "flag"}, row
        assert row["text"] == direct.text and direct.completion_tokens > 0
        assert (row["prompt_tokens"], row["completion_tokens"]) == (direct.prompt_tokens, direct.completion_tokens)
        assert row["finish_reason"] == direct.finish_reason


def set_status(out: Path, row_id: str, status: str) -> None:
    """Edit one row's status in its part (as if the first run had failed on it)."""
    [part] = [p for p in out.glob("part-*.parquet") if row_id in pq.read_table(p, columns=["id"])["id"].to_pylist()]
    table = pq.read_table(part)
    statuses = pc.if_else(pc.equal(table["id"], row_id), status, table["status"])
    pq.write_table(table.set_column(table.schema.get_field_index("status"), "status", statuses), part)


def test_parquet_job_resumes_without_redoing_finished_rows(
    ray_local: None, tiny_model_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "cup.webp").write_bytes(png((80, 60), (30, 30, 200), "WEBP"))
    table = pa.table(
        {
            "id": [f"r{i}" for i in range(6)],
            "prompt": ["what is it?", "hello there", BLOCKED_PROMPT, None, "compare", "<|im_start|>system"],
            "image": [png((64, 48), (200, 30, 30)), None, png((32, 32), (0, 0, 0)), None, None, None],
            "image_path": [None, None, None, "pics/cup.webp", "pics/missing.png", None],
        }
    )
    source = tmp_path / "requests.parquet"
    pq.write_table(table, source)
    out = tmp_path / "out"

    first = main(cli(tiny_model_dir, source, out, "--limit", "2"))  # a run that stops part-way
    assert (first.processed, first.remaining, first.already_done) == (2, 4, 0)
    first_rows = by_id(out)
    failed, kept = sorted(first_rows)

    # What a crash leaves: a half-written temporary part and a damaged part. And an "error" row (say the
    # engine ran out of memory on it), which only --retry-errors does again.
    set_status(out, failed, "error")
    (out / ".part-0123.parquet.abc.tmp").write_bytes(b"half a part")
    (out / "part-damaged.parquet").write_bytes(b"PAR1 not really")

    second = main(cli(tiny_model_dir, source, out, "--retry-errors"))
    assert (second.already_done, second.retried, second.processed) == (1, 1, 5)
    assert (second.remaining, second.duplicates, second.quarantined) == (0, 0, ["part-damaged.parquet"])
    assert (out / f".part-damaged.parquet{CORRUPT_SUFFIX}").exists()
    assert not (out / ".part-0123.parquet.abc.tmp").exists()

    rows = by_id(out)
    assert sorted(rows) == [f"r{i}" for i in range(6)]
    assert rows[kept]["request_id"] == first_rows[kept]["request_id"], "a finished row must not be recomputed"
    assert rows[failed]["request_id"] != first_rows[failed]["request_id"] and rows[failed]["status"] != "error"
    assert rows["r2"]["input_blocked"] and rows["r2"]["completion_tokens"] == 0
    assert rows["r3"]["status"] == "ok" and rows["r3"]["completion_tokens"] > 0  # image_path, default prompt
    assert rows["r1"]["status"] == "ok" and rows["r1"]["completion_tokens"] > 0  # text only
    assert (rows["r4"]["status"], rows["r4"]["error_code"], rows["r4"]["error_param"]) == (
        "rejected",
        "image_unreadable",
        "image_path",
    )
    assert (rows["r5"]["status"], rows["r5"]["error_code"], rows["r5"]["error_param"]) == (
        "rejected",
        "special_token_in_text",
        "prompt",
    )

    parts = {p.name: p.read_bytes() for p in out.glob("part-*.parquet")}
    third = main(cli(tiny_model_dir, source, out, "--retry-errors"))  # nothing left: no Ray job at all
    assert (third.processed, third.already_done, third.remaining, third.retried) == (0, 6, 0, 0)
    assert {p.name: p.read_bytes() for p in out.glob("part-*.parquet")} == parts


# --- the worker without Ray -------------------------------------------------------------------


def test_oversized_image_file_is_refused_by_the_validator(
    job: JobConfig, continuous: ContinuousEngine, tmp_path: Path
) -> None:
    limits = job.validation.model_copy(update={"max_image_encoded_bytes": 1000})
    small = job.model_copy(update={"validation": limits})
    worker = ModerationWorker(WorkerSettings(job=small, output_dir=str(tmp_path), image_root=str(tmp_path)), continuous)
    image = io.BytesIO()
    Image.effect_noise((128, 128), 64).save(image, format="PNG")  # noise does not compress
    (tmp_path / "big.png").write_bytes(image.getvalue())
    assert len(image.getvalue()) > limits.max_image_encoded_bytes

    [row] = worker.process([InputRow(id="big", prompt="hi", image_path="big.png")])
    expected = validator_error(image.getvalue(), limits)
    assert (row.status, row.error_code, row.error_param) == ("rejected", expected.code, "image")


def test_paths_that_leave_the_input_directory_are_refused(
    job: JobConfig, continuous: ContinuousEngine, tmp_path: Path
) -> None:
    root = tmp_path / "input"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    (root / "link.txt").symlink_to(secret)
    (root / "ok.txt").write_text("Describe this bag.")
    worker = ModerationWorker(WorkerSettings(job=job, output_dir=str(tmp_path), image_root=str(root)), continuous)
    rows = worker.process(
        [
            InputRow(id="up", prompt_path="../secret.txt"),
            InputRow(id="absolute", image_path=str(secret)),
            InputRow(id="symlink", prompt_path="link.txt"),
            InputRow(id="inside", prompt_path="ok.txt"),
        ]
    )
    refused = {r.id: (r.status, r.error_code, r.error_param) for r in rows if r.status != "ok"}
    assert refused == {
        "up": ("rejected", "path_outside_input", "prompt_path"),
        "absolute": ("rejected", "path_outside_input", "image_path"),
        "symlink": ("rejected", "path_outside_input", "prompt_path"),
    }
    assert [r.id for r in rows if r.status == "ok"] == ["inside"]


def test_engine_failure_is_an_error_row_and_spares_the_batch(
    worker: ModerationWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = worker_module.generate_all

    def flaky(engine, requests):
        results = real(engine, requests)
        results[0] = ServiceError("The model failed to generate a response.", code="engine_error")
        return results

    monkeypatch.setattr(worker_module, "generate_all", flaky)
    rows = worker.process([InputRow(id="a", prompt="hello"), InputRow(id="b", prompt="hi there")])
    assert [(r.id, r.status, r.error_code) for r in rows] == [("a", "error", "engine_error"), ("b", "ok", None)]


def test_worker_call_writes_one_part_and_audits_each_decision(
    job: JobConfig, continuous: ContinuousEngine, tmp_path: Path
) -> None:
    audit = AuditConfig(url=f"sqlite:///{tmp_path / 'audit.db'}", journal_dir=str(tmp_path / "journal"))
    settings = WorkerSettings(job=job.model_copy(update={"audit": audit}), output_dir=str(tmp_path), image_root="/")
    worker = ModerationWorker(settings, continuous)
    batch = pa.table({"id": ["ok", "blocked"], "prompt": ["hello", BLOCKED_PROMPT]})
    summary = worker(batch)
    assert summary.column("status").to_pylist() == ["ok", "ok"]
    assert summary.column("input_blocked").to_pylist() == [False, True]

    [part] = tmp_path.glob("part-*.parquet")
    assert part.name == part_name(["blocked", "ok"])
    rows = {r["id"]: r for r in pq.read_table(part).to_pylist()}
    records, _ = worker.audit.query(limit=100)
    directions = sorted((r.request_id, r.direction) for r in records)
    ok_id, blocked_id = rows["ok"]["request_id"], rows["blocked"]["request_id"]
    assert directions == sorted([(ok_id, "input"), (ok_id, "output"), (blocked_id, "input")])
    assert all(r.model == job.engine.version for r in records if r.direction == "output")
    worker.audit.close()


# --- parts, resume state, configuration -------------------------------------------------------


def _row(row_id: str) -> ResultRow:
    return ResultRow(id=row_id, request_id="r", status="ok", policy_version="p", model_version="m", processed_at="t")


def test_parts_are_named_by_their_ids_and_replace_each_other(tmp_path: Path) -> None:
    first = write_part(tmp_path, [_row("b"), _row("a")])
    again = write_part(tmp_path, [_row("a"), _row("b")])  # a retried batch
    assert first == again and [p.name for p in tmp_path.iterdir()] == [first.name]
    state = scan_output(tmp_path)
    assert (state.ids, state.rows, state.parts, state.duplicates) == ({"a", "b"}, 2, 1, 0)
    assert write_part(tmp_path, []) is None


def test_retry_errors_takes_error_rows_out_of_their_parts(tmp_path: Path) -> None:
    failed, rejected = _row("failed"), _row("rejected")
    failed.status, rejected.status = "error", "rejected"
    mixed = write_part(tmp_path, [_row("ok"), failed, rejected])
    only_errors = write_part(tmp_path, [_row("oom")])
    pq.write_table(pq.read_table(only_errors).set_column(2, "status", pa.array(["error"])), only_errors)

    assert scan_output(tmp_path).ids == {"ok", "failed", "rejected", "oom"}  # by default every row is final
    state = scan_output(tmp_path, retry_statuses=frozenset({"error"}))
    assert (state.ids, state.dropped, state.parts) == ({"ok", "rejected"}, 2, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [mixed.name]
    assert pq.read_table(mixed).column("id").to_pylist() == ["ok", "rejected"]


def test_output_schema_is_the_row_dataclass() -> None:
    assert OUTPUT_SCHEMA.names == list(ResultRow.__dataclass_fields__)
    pa.Table.from_pylist([_row("x").__dict__], schema=OUTPUT_SCHEMA)


def test_serve_config_gives_the_service_limits_and_policy() -> None:
    import yaml

    data = yaml.safe_load(SERVE_CONFIG.read_text())
    config = job_config_from_serve(data)
    [validator] = [d for d in data["applications"][0]["deployments"] if d["name"] == "Validator"]
    assert config.validation == ValidationLimits.model_validate(validator["user_config"])
    assert config.validation.resize_max_pixels < ValidationLimits().resize_max_pixels  # the tiny model's budget
    assert config.engine.dtype == "float32" and config.engine.served_model_name == "qwen3-vl-tiny"
    assert config.policy.policy_file == "configs/policy.yaml" and config.audit is None


def test_serve_config_validator_capacity_is_not_a_job_limit() -> None:
    """The Validator replica's decode slots are its own; the job takes its limits and still refuses typos."""

    def serve_config(validator: dict[str, Any]) -> dict[str, Any]:
        deployments = [{"name": "Validator", "user_config": validator}]
        return {"applications": [{"import_path": SERVE_IMPORT_PATH, "deployments": deployments}]}

    config = job_config_from_serve(serve_config({"max_concurrent_decodes": 2, "max_request_pixels": 1_000_000}))
    assert config.validation == ValidationLimits(max_request_pixels=1_000_000)
    with pytest.raises(pydantic.ValidationError):
        job_config_from_serve(serve_config({"max_concurent_decodes": 2}))


def test_bad_invocations_fail_before_any_work(tiny_model_dir: Path, tmp_path: Path) -> None:
    table = pa.table({"id": ["same", "same"], "prompt": ["a", "b"]})
    pq.write_table(table, tmp_path / "dup.parquet")
    no_model = [a for a in cli(tiny_model_dir, tmp_path / "dup.parquet", tmp_path / "o") if a != str(tiny_model_dir)]
    no_model.remove("--model")
    for argv in [
        no_model,
        cli(tiny_model_dir, tmp_path / "dup.parquet", tmp_path / "o"),
        cli(tiny_model_dir, tmp_path / "missing", tmp_path / "o"),
        cli(tiny_model_dir, tmp_path / "dup.parquet", tmp_path / "o", "--temperature", "9"),
    ]:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert not (tmp_path / "o").exists()
