"""vaestudy.jobs.devices: a GPU request without a GPU fails clearly, CPU jobs hide GPUs, and jobs
on a multi-GPU machine claim distinct GPUs through flock'ed lock files."""

import fcntl
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from vaestudy.jobs import devices
from vaestudy.jobs.devices import DeviceError, check_request, claim_gpus, select_devices


@pytest.fixture(autouse=True)
def unpinned(monkeypatch):
    """No scheduler pinning by default; release the locks a test claimed."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield
    while devices._HELD:
        devices._HELD.pop().close()


class FakeTF:
    """Stand-in for tf.config on a machine with ``n`` GPUs; records what was set."""

    def __init__(self, n: int):
        self.physical = [SimpleNamespace(name=f"/physical_device:GPU:{i}") for i in range(n)]
        self.visible, self.growth = None, []

    def select(self, requested: int, lock_dir):
        return select_devices(requested, lock_dir, physical=self.physical,
                              set_visible=lambda d, kind: setattr(self, "visible", (list(d), kind)),
                              set_growth=lambda d, on: self.growth.append((d.name, on)))


def test_gpu_requested_without_gpu_names_both_fixes(tmp_path):
    fake = FakeTF(0)
    with pytest.raises(DeviceError) as err:
        fake.select(1, tmp_path)
    msg = str(err.value)
    assert "requests the resource gpu=1" in msg and "--set-resources <rule>:gpu=1" in msg
    assert "tensorflow[and-cuda]==" in msg and "sees no GPU" in msg
    assert fake.visible is None  # nothing was configured before failing


def test_error_message_reports_build_and_pinning(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(DeviceError, match=r"tensorflow\[and-cuda\]==2\.21\.0") as err:
        check_request(1, 0, "2.21.0", False)
    assert "built with CUDA: no" in str(err.value) and "CUDA_VISIBLE_DEVICES=''" in str(err.value)
    check_request(1, 1, "2.21.0", True)  # enough GPUs: no error
    check_request(0, 0)


def test_two_requested_one_visible_raises(tmp_path):
    fake = FakeTF(1)
    with pytest.raises(DeviceError, match="resource gpu=2 but TensorFlow sees only 1 GPU"):
        fake.select(2, tmp_path)
    assert fake.visible is None


def test_real_tensorflow_cpu_job(tmp_path):
    import tensorflow as tf

    description = select_devices(0, tmp_path)
    assert description.startswith("CPU")
    assert tf.config.get_visible_devices("GPU") == []
    if not tf.config.list_physical_devices("GPU"):  # this machine: the GPU request must fail
        with pytest.raises(DeviceError, match=rf"tensorflow\[and-cuda\]=={tf.__version__}"):
            select_devices(1, tmp_path)


def test_cpu_job_hides_every_gpu(tmp_path):
    fake = FakeTF(2)
    description = fake.select(0, tmp_path)
    assert description.startswith("CPU") and "2 visible GPU(s) hidden" in description
    assert fake.visible == ([], "GPU") and fake.growth == []
    assert list(tmp_path.iterdir()) == []


def test_flock_conflicts_within_one_process(tmp_path):
    """The claiming relies on this: flock locks belong to open file descriptions."""
    path = tmp_path / "x.lock"
    with open(path, "a+") as a, open(path, "a+") as b:
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_two_claims_get_distinct_gpus(tmp_path):
    first, locks = claim_gpus(4, 1, tmp_path, start=0)
    second, _ = claim_gpus(4, 1, tmp_path, start=0)
    assert first == [0] and second == [1]
    assert locks == [tmp_path / "vaestudy-gpu-0.lock"]
    pair, _ = claim_gpus(4, 2, tmp_path, start=3)  # wraps around the free ones
    assert pair == [2, 3]


def test_gpu_locked_by_another_process_is_skipped(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('ready', flush=True); sys.stdin.read()", str(tmp_path / "vaestudy-gpu-2.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert claim_gpus(4, 1, tmp_path, start=2)[0] == [3]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert claim_gpus(4, 1, tmp_path, start=2)[0] == [2]  # free again once the holder exits


def test_all_claimed_falls_back_to_offset(tmp_path, monkeypatch):
    claim_gpus(4, 4, tmp_path)
    assert claim_gpus(4, 1, tmp_path, start=1) == ([1], [])
    monkeypatch.setattr(os, "getpid", lambda: 7)  # offset 7 % 4 = 3
    fake = FakeTF(4)
    description = fake.select(1, tmp_path)
    assert description.startswith("GPU 3 of 4") and "not claimed" in description
    assert fake.visible == ([fake.physical[3]], "GPU")


def test_select_claims_from_pid_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getpid", lambda: 6)  # offset 6 % 4 = 2
    fake = FakeTF(4)
    description = fake.select(1, tmp_path)
    lock = tmp_path / "vaestudy-gpu-2.lock"
    assert description == f"GPU 2 of 4 (/physical_device:GPU:2), claimed with {lock}"
    assert fake.visible == ([fake.physical[2]], "GPU")
    assert fake.growth == [("/physical_device:GPU:2", True)]
    other = FakeTF(4)
    assert other.select(1, tmp_path).startswith("GPU 3 of 4")  # a second job moves on


def test_scheduler_pinning_means_no_claiming(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    fake = FakeTF(2)
    assert fake.select(1, tmp_path) == "GPU 0 of 2 (/physical_device:GPU:0)"
    assert fake.visible == ([fake.physical[0]], "GPU")
    assert list(tmp_path.iterdir()) == []


def test_exactly_the_requested_gpus_are_used_unclaimed(tmp_path):
    fake = FakeTF(2)
    assert fake.select(2, tmp_path) == \
        "GPUs 0, 1 of 2 (/physical_device:GPU:0, /physical_device:GPU:1)"
    assert fake.visible == (fake.physical, "GPU") and len(fake.growth) == 2
    assert list(tmp_path.iterdir()) == []


CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw amx_bf16 amx_tile

processor\t: 1
model name\t: Other CPU
flags\t\t: fpu
"""


def test_cpu_name_names_model_and_vector_extensions():
    # A timing is only comparable with the CPU's vector extensions beside it; the first
    # processor's block is the one read.
    assert devices.cpu_name(CPUINFO) == "Intel(R) Xeon(R) Platinum 8480+ (AVX2, AVX-512, AMX)"
    avx2_only = CPUINFO.replace(" avx512f avx512bw amx_bf16 amx_tile", "")
    assert devices.cpu_name(avx2_only) == "Intel(R) Xeon(R) Platinum 8480+ (AVX2)"
    assert devices.cpu_name("model name : Plain\nflags : fpu sse2") == "Plain"
