"""An S3 bucket (AWS, or any S3-compatible endpoint: R2, MinIO, B2, ...) as a publish target.

- Credentials come from the standard AWS chain only (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
  AWS_PROFILE or `profile:`, SSO, an instance role); never from config.yaml, never printed.
- Each object gets a Content-Type from its extension (`content_type:` globs override it), a
  Cache-Control from the first `cache_control:` glob that matches, and its MD5 in metadata
  (`x-amz-meta-md5`). A plain upload's ETag is its MD5; a multipart upload's is not, so an
  object whose ETag differs but whose size matches is asked (HEAD) for the MD5 it was stored
  with before it is sent again.
- Transient errors (throttling, 5xx, dropped connections) are retried by botocore.
- boto3 is an optional dependency: `pip install "briefing[s3]"`.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import PublishError
from .base import GlobMap, LocalFile, LocalSite, Option, Plan, Progress, RemoteFile, Target

INSTALL = 'pip install "briefing[s3]"'
MULTIPART_THRESHOLD = 8 * 1024 * 1024  # files this large are sent in parts (S3's minimum is 5 MiB)
MAX_ATTEMPTS = 5  # botocore's "standard" retries: throttling, 5xx, dropped connections
_DELETE_BATCH = 1000  # DeleteObjects' limit
_MIME = mimetypes.MimeTypes()  # Python's built-in table only: the same on every machine
_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
    ".map": "application/json", ".webmanifest": "application/manifest+json",
    ".xml": "application/xml; charset=utf-8", ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".wasm": "application/wasm", ".pdf": "application/pdf",
}
_CREDENTIALS = ("Give credentials the standard AWS way: the AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY environment variables, a profile in ~/.aws/credentials "
                "(AWS_PROFILE, or `profile:` in the target), SSO, or an instance role.")


def content_type(path: str) -> str:
    """The Content-Type for a site file, by extension; UTF-8 for text."""
    suffix = Path(path).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed, encoding = _MIME.guess_type(path, strict=False)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")


class S3Target(Target):
    type = "s3"
    OPTIONS: Mapping[str, Option] = {
        "bucket": Option("str", required=True, help="the bucket's name"),
        "prefix": Option("str", default="", help="a folder in the bucket to publish into"),
        "endpoint_url": Option("str", help="an S3-compatible endpoint; omit for AWS"),
        "region": Option("str", help="the bucket's region, e.g. eu-west-1"),
        "profile": Option("str", help="a profile in ~/.aws/config (credentials stay there)"),
        "addressing_style": Option("str", default="auto", help="auto, path or virtual"),
        "cache_control": Option("globmap", default={}, help="path glob -> Cache-Control"),
        "content_type": Option("globmap", default={}, help="path glob -> Content-Type"),
        "workers": Option("int", default=8, help="uploads in parallel"),
    }
    CREDENTIALS_HELP = _CREDENTIALS

    def __init__(self, name: str, options: Mapping[str, Any], root: Path, output: Path):
        super().__init__(name, options, root, output)
        self.bucket: str = options["bucket"]
        prefix = options["prefix"].strip("/")
        self.prefix = prefix + "/" if prefix else ""
        self.cache_control = GlobMap(options["cache_control"])
        self.content_types = GlobMap(options["content_type"])
        self.client = _make_client(options)

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        if not options["bucket"].strip() or "/" in options["bucket"]:
            out.append(("bucket", "must be a bucket name alone (put folders in `prefix:`)."))
        url = options["endpoint_url"]
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                out.append(("endpoint_url", f"{url!r} must be an http(s) URL, e.g. "
                            "'https://ACCOUNT.r2.cloudflarestorage.com'."))
            elif parts.username or parts.password:
                out.append(("endpoint_url", "must not hold credentials. " + _CREDENTIALS))
        if options["addressing_style"] not in ("auto", "path", "virtual"):
            out.append(("addressing_style", "must be auto, path or virtual."))
        if ".." in options["prefix"].split("/"):
            out.append(("prefix", "must not contain '..'."))
        return out

    def describe(self) -> str:
        at = f" at {self.options['endpoint_url']}" if self.options["endpoint_url"] else ""
        return f"s3://{self.bucket}/{self.prefix}{at}"

    def headers(self, path: str) -> dict[str, Any]:
        """The object settings a site file is uploaded with."""
        extra: dict[str, Any] = {"ContentType": self.content_types.get(path) or content_type(path)}
        cache = self.cache_control.get(path)
        if cache:
            extra["CacheControl"] = cache
        return extra

    # ------------------------------------------------------------------------ scan

    def scan(self) -> dict[str, RemoteFile]:
        files: dict[str, RemoteFile] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(self.prefix):]
                    if rel and not rel.endswith("/"):  # "folder/" markers are left alone
                        files[rel] = RemoteFile(rel, obj["Size"], obj.get("ETag", "").strip('"'))
        except Exception as exc:
            raise self._error(exc, "listing") from None
        return files

    def same(self, local: LocalFile, remote: RemoteFile) -> bool:
        if remote.size != local.size:
            return False
        if remote.hash == local.md5:
            return True
        try:  # a multipart (or encrypted) object: its ETag is not its MD5, ours is in metadata
            head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + remote.path)
        except Exception as exc:
            raise self._error(exc, f"reading {self.prefix + remote.path}") from None
        return head.get("Metadata", {}).get("md5") == local.md5

    # ------------------------------------------------------------------------ apply

    def apply(self, site: LocalSite, plan: Plan, progress: Progress) -> str:
        changed = [site.files[rel] for rel in (*plan.uploads, *plan.updates)]
        with ThreadPoolExecutor(max_workers=self.options["workers"]) as pool:
            futures = [pool.submit(self._upload, local, plan, progress) for local in changed]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            wait(pending)
        for future in futures:
            if not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        self._delete(list(plan.deletes), plan, progress)
        return ""

    def _upload(self, local: LocalFile, plan: Plan, progress: Progress) -> None:
        key = self.prefix + local.path
        extra = {**self.headers(local.path), "Metadata": {"md5": local.md5}}
        try:
            if local.size < MULTIPART_THRESHOLD:
                body = local.read()
                if hashlib.md5(body, usedforsecurity=False).hexdigest() != local.md5:
                    raise PublishError(f"{local.source} changed while publishing (another build?); "
                                       "publish again.")
                md5 = base64.b64encode(bytes.fromhex(local.md5)).decode()
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentMD5=md5, **extra)
            else:
                from boto3.s3.transfer import TransferConfig

                config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                        multipart_chunksize=MULTIPART_THRESHOLD, max_concurrency=4)
                self.client.upload_file(str(local.source), self.bucket, key, ExtraArgs=extra,
                                        Config=config)
        except Exception as exc:
            raise self._error(exc, f"uploading {key}") from None
        progress.done(plan, local.path)

    def _delete(self, paths: list[str], plan: Plan, progress: Progress) -> None:
        for start in range(0, len(paths), _DELETE_BATCH):
            batch = paths[start:start + _DELETE_BATCH]
            try:
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": self.prefix + rel} for rel in batch], "Quiet": True})
            except Exception as exc:
                raise self._error(exc, "deleting") from None
            failed = {e.get("Key", ""): e for e in answer.get("Errors", [])}
            for rel in batch:
                if self.prefix + rel not in failed:
                    progress.done(plan, rel, deleted=True)
            if failed:
                key, error = next(iter(failed.items()))
                raise PublishError(f"could not delete {len(failed)} object(s), e.g. {key}: "
                                   f"{error.get('Code', '')} {error.get('Message', '')}".rstrip())

    # ------------------------------------------------------------------------ errors

    def _error(self, exc: Exception, action: str) -> PublishError:
        """A clear PublishError for what boto3 raised (which never holds the secret key)."""
        if isinstance(exc, PublishError):
            return exc
        from botocore import exceptions as bx

        where = self.describe()
        if isinstance(exc, bx.NoCredentialsError):
            return PublishError(f"no AWS credentials found for {where}. {_CREDENTIALS}")
        if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError)):
            return PublishError(f"cannot reach the S3 endpoint for {where} while {action}: {exc}. "
                                "Check the network and `endpoint_url:`.")
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = error.get("Message", "") or str(exc)
            if code == "NoSuchBucket":
                return PublishError(f"the bucket {self.bucket!r} does not exist"
                                    f"{' at ' + self.options['endpoint_url'] if self.options['endpoint_url'] else ''}"
                                    ". Create it, or fix `bucket:` in config.yaml.")
            if code in ("AccessDenied", "403", "AllAccessDisabled", "Forbidden"):
                return PublishError(f"access denied while {action} in {where}. The credentials "
                                    "need s3:ListBucket, s3:GetObject, s3:PutObject and "
                                    "s3:DeleteObject on it.")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                        "InvalidToken", "TokenRefreshRequired"):
                return PublishError(f"the AWS credentials were rejected ({code}) by {where}. "
                                    + _CREDENTIALS)
            return PublishError(f"S3 error while {action} in {where}: {code} {message}".strip())
        if isinstance(exc, bx.BotoCoreError):
            return PublishError(f"S3 error while {action} in {where}: {exc}")
        if isinstance(exc, OSError):
            return PublishError(f"cannot read {exc.filename or 'a local file'} while {action}: "
                                f"{exc.strerror or exc}")
        raise exc


def _make_client(options: Mapping[str, Any]) -> Any:
    try:
        import boto3
        from botocore import exceptions as bx
        from botocore.config import Config
    except ImportError:
        raise PublishError(f"publishing to S3 needs boto3, which is not installed: {INSTALL}") from None
    try:
        session = boto3.session.Session(profile_name=options["profile"], region_name=options["region"])
        if session.get_credentials() is None:
            raise PublishError(f"no AWS credentials found for bucket {options['bucket']!r}. {_CREDENTIALS}")
        config = Config(
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=10, read_timeout=60,
            s3={"addressing_style": options["addressing_style"]},
            # the defaults since botocore 1.36 break some S3-compatible stores; we send Content-MD5
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=max(10, options["workers"] + 2),
        )
        return session.client("s3", endpoint_url=options["endpoint_url"], config=config)
    except bx.ProfileNotFound:
        raise PublishError(f"the AWS profile {options['profile']!r} does not exist in ~/.aws/config "
                           "or ~/.aws/credentials.") from None
    except bx.BotoCoreError as exc:
        raise PublishError(f"cannot set up the S3 client: {exc}") from None
