"""Publishing to a real S3-compatible HTTP endpoint on 127.0.0.1 (moto's threaded server)."""

from __future__ import annotations

import itertools
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from publish_helpers import SITE, as_bytes, edited, make_project, write_site

from briefing.errors import ConfigError, PublishError
from briefing.publish import publish, s3

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

CACHE = {"*.html": "max-age=300", "assets/**": "max-age=31536000, immutable"}
_names = itertools.count()


@pytest.fixture(scope="module")
def endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials, and nothing from this machine's own AWS setup or the network."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def calls(monkeypatch):
    """Counts the S3 operations the publish target makes."""
    counter: Counter[str] = Counter()
    make = s3._make_client

    def counting(options):
        made = make(options)
        made.meta.events.register("before-call.s3.*", lambda model, **kw: counter.update([model.name]))
        return made

    monkeypatch.setattr(s3, "_make_client", counting)
    return counter


def new_bucket(client) -> str:
    name = f"briefings-{next(_names)}-{os.getpid()}"
    client.create_bucket(Bucket=name)
    return name


def project(tmp_path: Path, endpoint: str, bucket: str, files=None, **more):
    target = {"type": "s3", "bucket": bucket, "prefix": "news/", "endpoint_url": endpoint,
              "region": "us-east-1", "cache_control": CACHE, **more}
    return make_project(tmp_path / "proj", {"targets": {"bucket": target}}, files)


def run(config, **kw):
    lines: list[str] = []
    return publish(config, build=False, echo=lines.append, **kw), lines


def objects(client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            out[key[len(prefix):]] = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return out


def test_publish_edit_delete_republish(tmp_path, endpoint, client, calls):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="elsewhere/keep.txt", Body=b"not ours")  # outside the prefix
    config = project(tmp_path, endpoint, bucket)

    outcome, _ = run(config)
    assert outcome.applied and calls["PutObject"] == len(SITE)
    assert objects(client, bucket, "news/") == as_bytes(SITE)  # and not the manifest
    head = client.head_object(Bucket=bucket, Key="news/2025/iraq-raid/index.html")
    assert head["ContentType"] == "text/html; charset=utf-8" and head["CacheControl"] == "max-age=300"
    assert head["Metadata"]["md5"] == head["ETag"].strip('"')
    css = client.head_object(Bucket=bucket, Key="news/assets/style.css")
    assert css["ContentType"] == "text/css; charset=utf-8"
    assert css["CacheControl"] == "max-age=31536000, immutable"
    png = client.head_object(Bucket=bucket, Key="news/assets/logo.png")
    assert png["ContentType"] == "image/png"
    feed = client.head_object(Bucket=bucket, Key="news/feed.xml")
    assert feed["ContentType"] == "application/xml; charset=utf-8" and "CacheControl" not in feed

    # nothing changed: nothing uploaded
    calls.clear()
    outcome, lines = run(config)
    assert outcome.plan.empty and "up to date" in lines[-1]
    assert calls["PutObject"] == 0 and calls["DeleteObjects"] == 0 and calls["HeadObject"] == 0

    # one page edited, one page removed: one upload, one delete
    new = edited(SITE, {"index.html": "<h1>Edited</h1>", "2025/syria-talks/index.html": None})
    write_site(config.output_path, new)
    calls.clear()
    outcome, _ = run(config)
    assert (outcome.plan.updates, outcome.plan.deletes) == (("index.html",), ("2025/syria-talks/index.html",))
    assert calls["PutObject"] == 1 and calls["DeleteObjects"] == 1
    assert objects(client, bucket, "news/") == as_bytes(new)
    assert objects(client, bucket, "elsewhere/") == {"keep.txt": b"not ours"}


def test_dry_run_changes_nothing(tmp_path, endpoint, client, calls):
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="news/old.html", Body=b"old")
    config = project(tmp_path, endpoint, bucket)
    outcome, lines = run(config, dry_run=True)
    assert len(outcome.plan.uploads) == len(SITE) and outcome.plan.deletes == ("old.html",)
    assert lines[-1] == "Dry run: nothing was changed."
    assert calls["PutObject"] == calls["DeleteObjects"] == 0
    assert objects(client, bucket) == {"news/old.html": b"old"}


def test_max_deletes_stops_a_mass_delete(tmp_path, endpoint, client):
    bucket = new_bucket(client)
    config = project(tmp_path, endpoint, bucket)
    run(config)
    write_site(config.output_path, {"index.html": "only"})  # the rest "removed": 8 deletes
    with pytest.raises(PublishError, match="deletes 8 files .* more than --max-deletes 5"):
        run(config, max_deletes=5)
    assert objects(client, bucket, "news/") == as_bytes(SITE)  # untouched, not even the upload
    run(config, max_deletes=8)
    assert objects(client, bucket, "news/") == {"index.html": b"only"}


def test_multipart_objects_compare_by_the_md5_in_metadata(tmp_path, endpoint, client, calls, monkeypatch):
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)  # S3's smallest part
    big = os.urandom(6 * 1024 * 1024)
    bucket = new_bucket(client)
    config = project(tmp_path, endpoint, bucket, files={"index.html": "i", "media/big.pdf": big})
    run(config)
    head = client.head_object(Bucket=bucket, Key="news/media/big.pdf")
    assert "-" in head["ETag"] and head["ContentType"] == "application/pdf"  # multipart: ETag is no MD5
    calls.clear()
    outcome, _ = run(config)
    assert outcome.plan.empty and calls["HeadObject"] == 1 and calls["PutObject"] == 0
    assert calls["UploadPart"] == 0


def test_content_type_override_and_no_prefix(tmp_path, endpoint, client):
    bucket = new_bucket(client)
    config = project(tmp_path, endpoint, bucket, files={"index.html": "i", "pagefind/x.pf_index": b"\0"},
                     prefix="", content_type={"*.pf_index": "application/x-pagefind"})
    run(config)
    assert set(objects(client, bucket)) == {"index.html", "pagefind/x.pf_index"}
    assert client.head_object(Bucket=bucket, Key="pagefind/x.pf_index")["ContentType"] == "application/x-pagefind"


def test_missing_bucket_is_a_clear_error(tmp_path, endpoint):
    config = project(tmp_path, endpoint, "no-such-bucket")
    with pytest.raises(PublishError, match="the bucket 'no-such-bucket' does not exist at http://127.0.0.1"):
        run(config)


def test_transient_errors_are_retried(tmp_path, endpoint, client, monkeypatch):
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **kw):
            yield b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    failures = Counter()

    def flaky(request, **kw):  # the first try of every upload: 503 SlowDown
        if failures[request.url] == 0:
            failures[request.url] += 1
            return AWSResponse(request.url, 503, {}, Raw())
        return None

    bucket = new_bucket(client)
    config = project(tmp_path, endpoint, bucket)
    make = s3._make_client

    def patched(options):
        made = make(options)
        made.meta.events.register("before-send.s3.PutObject", flaky)
        return made

    monkeypatch.setattr(s3, "_make_client", patched)
    outcome, _ = run(config)
    assert outcome.applied and sum(failures.values()) == len(SITE)
    assert objects(client, bucket, "news/") == as_bytes(SITE)


def test_access_denied_midway_says_what_was_done(tmp_path, endpoint, client, monkeypatch):
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **kw):
            yield b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"

    def deny_feed(request, **kw):
        return AWSResponse(request.url, 403, {}, Raw()) if request.url.endswith("/feed.xml") else None

    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="news/old.html", Body=b"old")
    config = project(tmp_path, endpoint, bucket, workers=1)
    make = s3._make_client

    def patched(options):
        made = make(options)
        made.meta.events.register("before-send.s3.PutObject", deny_feed)
        return made

    monkeypatch.setattr(s3, "_make_client", patched)
    with pytest.raises(PublishError) as info:
        run(config)
    message = str(info.value)
    assert "access denied while uploading news/feed.xml" in message
    assert "deleted 0 of 1" in message and "run publish again" in message
    held = objects(client, bucket, "news/")
    assert "old.html" in held and "feed.xml" not in held  # no deletes after a failed upload
    assert all(held[k] == v for k, v in as_bytes(SITE).items() if k in held)


def test_unreachable_endpoint_is_a_clear_error(tmp_path, endpoint, client, monkeypatch):
    import socket

    monkeypatch.setattr(s3, "MAX_ATTEMPTS", 1)  # no retries: fast

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = project(tmp_path, f"http://127.0.0.1:{port}", "briefings")
    with pytest.raises(PublishError, match="cannot reach the S3 endpoint"):
        run(config)


def test_credentials_never_come_from_config(tmp_path, endpoint):
    with pytest.raises(ConfigError) as info:
        run(project(tmp_path, endpoint, "b", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="s3cr3t"))
    text = str(info.value)
    assert "aws_secret_access_key' looks like a credential" in text and "AWS_SECRET_ACCESS_KEY" in text
    assert "s3cr3t" not in text and "AKIAEXAMPLE" not in text


def test_no_credentials_is_a_clear_error(tmp_path, endpoint, client, monkeypatch):
    bucket = new_bucket(client)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    config = project(tmp_path, endpoint, bucket)
    with pytest.raises(PublishError, match="no AWS credentials found"):
        run(config)


def test_credentials_are_never_printed(tmp_path, endpoint, client, monkeypatch, capsys):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    bucket = new_bucket(client)
    config = project(tmp_path, endpoint, bucket)
    from briefing import publish_cli

    assert publish_cli.main(["--project", str(config.root), "--no-build"]) == 0
    write_site(config.output_path, {"index.html": "x"})
    assert publish_cli.main(["--project", str(config.root), "--no-build", "--max-deletes", "0"]) == 1
    out = capsys.readouterr()
    assert "very-secret-value" not in out.out + out.err and "testing" not in out.out + out.err


def test_missing_boto3_names_the_extra(tmp_path, endpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    config = project(tmp_path, endpoint, "b")
    with pytest.raises(PublishError, match=r'pip install "briefing\[s3\]"'):
        run(config)
