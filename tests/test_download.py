"""Downloads against a real HTTP server on 127.0.0.1: good, corrupted and truncated files, and no server."""

import hashlib
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from gan_lessons import data
from gan_lessons.download import DownloadError, download_verified


class MirrorHandler(BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        mirror, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        if mirror == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if mirror == "oversized":  # the right file followed by 10 MB nobody asked for
            body = body + bytes(10 * 1024 * 1024)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # the truncated mirror promises the whole file and stops halfway
        self.wfile.write(body[: len(body) // 2] if mirror in ("truncated", "stalling") else body)
        self.wfile.flush()
        if mirror == "stalling":  # half the file, then nothing: a connection that hangs until it is killed
            time.sleep(20)
        if mirror == "truncated":
            self.close_connection = True

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the truncated mirror's broken connection is the point of the test


@pytest.fixture(scope="module")
def mirror_server(data_dir):
    MirrorHandler.files = {
        name: (data_dir / "mnist" / name).read_bytes()
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    }
    server = QuietServer(("127.0.0.1", 0), MirrorHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def refused_url():
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder):
    return [p.name for p in folder.rglob("*") if p.name.startswith(".download-")]


def test_good_mirror_downloads_and_verifies(mirror_server, tmp_path):
    labels = MirrorHandler.files["t10k-labels-idx1-ubyte.gz"]
    path = download_verified([f"{mirror_server}/good/t10k-labels-idx1-ubyte.gz"], tmp_path / "labels.gz",
                             hashlib.sha256(labels).hexdigest())
    assert path.read_bytes() == labels and not leftovers(tmp_path)


def test_corrupted_then_truncated_then_good_mirror(mirror_server, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    expected = hashlib.sha256(MirrorHandler.files[name]).hexdigest()
    urls = [f"{mirror_server}/{mirror}/{name}" for mirror in ("corrupt", "truncated", "good")]
    path = download_verified(urls, tmp_path / name, expected)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected
    assert not leftovers(tmp_path)


def test_every_mirror_bad_leaves_nothing_and_says_why(mirror_server, refused_url, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    expected = hashlib.sha256(MirrorHandler.files[name]).hexdigest()
    urls = [f"{mirror_server}/corrupt/{name}", f"{mirror_server}/truncated/{name}", refused_url + name]
    with pytest.raises(DownloadError) as error:
        download_verified(urls, tmp_path / name, expected)
    message = str(error.value)
    assert "does not match the expected" in message  # the corrupted file
    assert "IncompleteRead" in message or "cut short" in message  # the truncated one
    assert "refused" in message.lower()  # no server
    assert list(tmp_path.iterdir()) == []


def test_a_destination_that_cannot_be_written_is_not_blamed_on_the_mirrors(mirror_server, tmp_path):
    """A folder where the file should go: the rename fails here, so the error is raised at once, as it is, and
    no second mirror is asked for the same bytes."""
    name = "t10k-labels-idx1-ubyte.gz"
    expected = hashlib.sha256(MirrorHandler.files[name]).hexdigest()
    (tmp_path / name).mkdir()
    with pytest.raises(IsADirectoryError):
        download_verified([f"{mirror_server}/good/{name}", "https://never.asked.invalid/x.gz"], tmp_path / name,
                          expected)
    assert not leftovers(tmp_path)


def test_size_cap(mirror_server, tmp_path):
    name = "t10k-images-idx3-ubyte.gz"
    with pytest.raises(DownloadError, match="cap"):
        download_verified([f"{mirror_server}/good/{name}"], tmp_path / name, "0" * 64, max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


def test_plain_http_is_refused_except_for_this_machine(tmp_path):
    with pytest.raises(DownloadError, match="only https"):
        download_verified(["http://example.com/x.gz"], tmp_path / "x.gz", "0" * 64)


def test_load_mnist_downloads_missing_files_into_the_given_folder(mirror_server, tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_LESSONS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mirrors = (f"{mirror_server}/corrupt/", f"{mirror_server}/good/")
    images, labels = data.load_mnist("test", data_dir=tmp_path / "course_data", mirrors=mirrors)
    assert images.shape == (10000, 28, 28, 1) and np.bincount(labels)[0] == 980
    assert sorted(p.name for p in (tmp_path / "course_data" / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
    ]


def test_offline_error_names_the_file_the_folders_and_the_fix(refused_url, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LESSONS_DATA", str(tmp_path / "env_folder"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_fashion_mnist("test", data_dir=tmp_path / "arg_folder", mirrors=(refused_url,))
    message = str(error.value)
    assert "fashion_mnist/t10k-images-idx3-ubyte.gz" in message
    for folder in ("arg_folder", "env_folder", "cache"):
        assert folder in message
    assert "GAN_LESSONS_DATA" in message and "by hand" in message
    assert not leftovers(tmp_path)


def test_each_file_has_its_own_size_cap(mirror_server, tmp_path, monkeypatch):
    """A mirror serving more than the file's known size is cut off at that size, not after 64 MB."""
    monkeypatch.delenv("GAN_LESSONS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(data.DataNotFoundError, match="over the 4542-byte cap"):
        data.locate_file(data.MNIST_FILES, "t10k-labels-idx1-ubyte.gz", data_dir=tmp_path / "course_data",
                         mirrors=(f"{mirror_server}/oversized/",))
    assert not leftovers(tmp_path) and not (tmp_path / "course_data" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    for dataset in (data.MNIST_FILES, data.FASHION_MNIST_FILES):
        assert set(dataset.sizes) == set(dataset.files)


def test_a_download_killed_midway_is_never_taken_for_the_file(mirror_server, tmp_path, monkeypatch, data_dir):
    """SIGKILL leaves no chance to clean up: the half-written file must not pass for the real one."""
    name = "t10k-images-idx3-ubyte.gz"
    folder = tmp_path / "course_data"
    code = ("import sys; from gan_lessons import data; "
            "data.locate_file(data.MNIST_FILES, sys.argv[1], data_dir=sys.argv[2], mirrors=(sys.argv[3],))")
    process = subprocess.Popen([sys.executable, "-c", code, name, str(folder), f"{mirror_server}/stalling/"],
                               env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": ""})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.stat().st_size for p in folder.rglob(".download-*")):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    partial = list(folder.rglob(".download-*"))
    assert partial and 0 < partial[0].stat().st_size < (data_dir / "mnist" / name).stat().st_size
    assert not (folder / "mnist" / name).exists()  # only the temporary name holds the half file

    monkeypatch.delenv("GAN_LESSONS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    images, _ = data.load_mnist("test", data_dir=folder, mirrors=(f"{mirror_server}/good/",))
    assert images.shape == (10000, 28, 28, 1)  # downloaded again in full and verified
