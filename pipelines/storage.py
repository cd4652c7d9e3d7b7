"""Reading and writing parquet under a root URI: a local folder or `s3://bucket/prefix`.

Writes are atomic per file: the bytes go to a temporary name first and are published with
one rename (local) or one PUT (S3), so a reader never sees a half-written file.
"""

from __future__ import annotations

import io
import os
import uuid

import fsspec
import pandas as pd


def join_uri(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *(part.strip("/") for part in parts)])


def filesystem(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(uri, **_storage_options(uri))
    return fs, path


def _storage_options(uri: str) -> dict[str, object]:
    """S3 endpoint from the environment (MinIO, moto) so the same code runs everywhere."""
    if uri.startswith("s3://") and os.environ.get("AWS_ENDPOINT_URL"):
        return {"client_kwargs": {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]}}
    return {}


def write_parquet(frame: pd.DataFrame, uri: str) -> str:
    """Write `frame` to `uri` atomically and return the URI."""
    fs, path = filesystem(uri)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    if "file" in fs.protocol:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        with open(temporary, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    else:
        fs.pipe_file(path, buffer.getvalue())
    return uri


def read_parquet(
    uri: str, columns: list[str] | None = None, arrow_backed: bool = False
) -> pd.DataFrame:
    """`arrow_backed` keeps Arrow's buffers (strings a third of the memory, 10× faster to read)."""
    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        if arrow_backed:
            return pd.read_parquet(handle, columns=columns, dtype_backend="pyarrow")
        return pd.read_parquet(handle, columns=columns)


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return bool(fs.exists(path))


def move(source_uri: str, target_uri: str) -> str:
    """Move a file between URIs of one filesystem (rename locally, copy + delete on S3)."""
    fs, source = filesystem(source_uri)
    _, target = filesystem(target_uri)
    if "file" in fs.protocol:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(source, target)
    else:
        fs.copy(source, target)
        fs.rm(source)
    return target_uri


def write_text(content: str, uri: str) -> str:
    fs, path = filesystem(uri)
    if "file" in fs.protocol:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        with open(temporary, "w") as handle:
            handle.write(content)
        os.replace(temporary, path)
    else:
        fs.pipe_file(path, content.encode())
    return uri


def read_text(uri: str) -> str:
    fs, path = filesystem(uri)
    with fs.open(path, "r") as handle:
        return str(handle.read())


def parquet_row_count(uri: str) -> int:
    """Rows from the parquet footer only: cheap even for large files or on S3."""
    import pyarrow.parquet as pq

    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        return int(pq.ParquetFile(handle).metadata.num_rows)


def list_files(uri: str, pattern: str) -> list[str]:
    fs, path = filesystem(uri)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    prefix = "" if protocol in ("file", "local") else f"{protocol}://"
    return sorted(prefix + found for found in fs.glob(f"{path.rstrip('/')}/{pattern}"))
