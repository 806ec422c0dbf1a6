"""Offline moderation: the service's validation, VLM engine and content policy as one Ray Data job.

Usage (from the project root)::

    python -m jobs.batch_moderate --input photos/ --output moderated/ \\
        --model Qwen/Qwen3-VL-8B-Instruct --device cuda --batch-size 16 --num-actors 2

    python -m jobs.batch_moderate --input requests.parquet --output moderated/ \\
        --model .cache/tiny-qwen3-vl --dtype float32 --device cpu --serve-config configs/cpu.yaml

Input (``--input``):

* a directory of images (``.jpg .jpeg .png .webp .gif``, searched recursively; names starting with
  ``.`` or ``_`` are skipped). A row's ``id`` is the image's path relative to the directory; its prompt
  is the sidecar ``NAME.png.txt`` or ``NAME.txt`` next to the image (stripped), else ``--prompt``;
* or a Parquet file or directory with the columns ``id`` (unique), ``prompt`` (null: ``--prompt``),
  and ``image`` (bytes, nullable) and/or ``image_path`` (relative paths resolve against the directory
  of the Parquet input). A row without an image is a text-only request.

Each row goes the service's way: ``validate_chat_request`` (the image travels as Base64, so its type
is sniffed from its bytes as for an API client), the input policy check on its text and images (a
blocked input never reaches the model), the VLM deployment's continuous engine (``create_engine`` +
``generate_all``) on the batch's unblocked rows, then the output policy check. Decisions are audited
with ``--audit-url`` (off by default).

Output (``--output``): Parquet parts ``part-<hash>.parquet``, one row per input (``ResultRow``),
each part written by the actor that processed its batch, to a hidden temporary file first and then
renamed, so a part is either complete or absent. Read it with ``pandas.read_parquet(OUT)``.

Resume: a run first reads the ids already in ``OUT`` (parts that cannot be read are renamed to
``.<name>.corrupt`` and their rows done again; stale temporary files are deleted) and processes only
the others, so rerunning the same command after a crash finishes the job without redoing rows. A
part's name is a hash of its ids, so a batch that Ray retries replaces its own part rather than
adding a copy. One job at a time per ``OUT``. Rows are final once written, whatever their status;
``--retry-errors`` first removes the rows of status ``error`` (engine or audit failures, e.g. out of
memory) from their parts, so that they are done again.
"""

from jobs.batch_moderate.job import main, run
from jobs.batch_moderate.settings import JobConfig, build_job_config, job_config_from_serve, load_job_config

__all__ = ["JobConfig", "build_job_config", "job_config_from_serve", "load_job_config", "main", "run"]
