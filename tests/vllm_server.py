"""Start and stop a real vLLM OpenAI-compatible server (CPU build) for integration tests.

vLLM lives in its own virtualenv (``scripts/setup-vllm.sh`` builds it): its
torch stack would otherwise fight the app's. The server serves the embedded
SmolLM2 model, converted once to a Hugging Face folder by
:func:`arena.embedded.ensure_converted`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Sequence

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VLLM_PYTHON = PROJECT_ROOT / ".cache" / "vllm-venv" / "bin" / "python"
READY_TIMEOUT_S = 300


def vllm_python() -> Path:
    return Path(os.environ.get("ARENA_VLLM_PYTHON", DEFAULT_VLLM_PYTHON))


def require_vllm() -> None:
    """Skip the calling test when the vLLM virtualenv is absent; fail instead under ARENA_REQUIRE_VLLM=1 (CI)."""
    import pytest

    if not vllm_python().exists():
        message = f"vLLM virtualenv missing at {vllm_python()} (run scripts/setup-vllm.sh)"
        if os.environ.get("ARENA_REQUIRE_VLLM") == "1":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1, eager mode, small KV cache.

    *extra_args* go on the command line after these (``["--runner", "pooling"]`` for a reward model).
    """

    def __init__(self, model_dir: Path, served_name: str, scratch: Path, extra_args: Sequence[str] = ()) -> None:
        self.model_dir = model_dir
        self.served_name = served_name
        self.scratch = scratch
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = scratch / "vllm.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB; the default asks for far more than a test needs
            "VLLM_CACHE_ROOT": str(self.scratch / "vllm-cache"),
            "TORCHINDUCTOR_CACHE_DIR": str(self.scratch / "inductor"),
            "TMPDIR": str(self.scratch),
            "HF_HUB_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }
        command = [
            str(vllm_python()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--enforce-eager", "--max-model-len", "2048",
            *self.extra_args,
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.scratch, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.process.returncode}; log:\n{self.tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"vLLM not ready after {READY_TIMEOUT_S} s; log:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the engine runs in child processes
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
