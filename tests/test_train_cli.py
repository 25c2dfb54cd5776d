"""tracking/train.py: the torchrun command line, and a 2-process CPU (gloo) run that is stopped
after its first checkpoint and resumed by rerunning the same command."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from lib.train.launch import build_parser, main, torchrun_command

REPO = Path(__file__).resolve().parents[1]


def test_torchrun_command_single_node_is_standalone():
    args = build_parser().parse_args(["--config", "tiny_demo", "--save_dir", "out", "--mode", "multiple",
                                      "--nproc_per_node", "2", "--data_dir", "data", "--seed", "7"])
    cmd = torchrun_command(args)
    assert cmd[1:3] == ["-m", "torch.distributed.run"]
    assert cmd[cmd.index("--nproc_per_node") + 1] == "2" and "--standalone" in cmd
    script = cmd.index(str(REPO / "tracking" / "train.py"))
    worker = cmd[script + 1:]
    assert worker[0] == "--worker" and worker[worker.index("--config") + 1] == "tiny_demo"
    assert Path(worker[worker.index("--save_dir") + 1]).is_absolute()
    assert worker[worker.index("--seed") + 1] == "7"


def test_torchrun_command_multi_node_passthrough():
    args = build_parser().parse_args(["--config", "x", "--mode", "multiple", "--nproc_per_node", "4", "--nnodes", "2",
                                      "--node_rank", "1", "--master_addr", "10.0.0.1", "--master_port", "29501"])
    cmd = torchrun_command(args)
    launcher = cmd[:cmd.index(str(REPO / "tracking" / "train.py"))]
    assert "--standalone" not in launcher
    for flag, value in (("--nnodes", "2"), ("--node_rank", "1"), ("--master_addr", "10.0.0.1"),
                        ("--master_port", "29501"), ("--nproc_per_node", "4")):
        assert launcher[launcher.index(flag) + 1] == value


def test_unknown_script_config_and_data_are_clear_errors(tmp_path, capsys):
    assert main(["--script", "ostrack", "--config", "tiny_demo", "--mode", "single", "--save_dir", str(tmp_path)]) == 2
    assert "--script 'ostrack'" in capsys.readouterr().err
    # checked before torchrun is launched
    assert main(["--config", "no_such_config", "--mode", "multiple", "--nproc_per_node", "2",
                 "--save_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no_such_config" in err and "Traceback" not in err
    assert main(["--config", "tiny_demo", "--mode", "single", "--save_dir", str(tmp_path),
                 "--data_dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["--config", "tiny_demo", "--mode", "multiple", "--nproc_per_node", "2", "--save_dir", str(tmp_path),
                 "--data_dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "ChildFailedError" not in err


def _procs_with(text):
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(int(d.name))
    return found


def test_multiple_mode_two_cpu_processes_stop_and_resume(tmp_path):
    from lib.data.synthetic import generate_dataset
    generate_dataset(tmp_path / "data" / "lasher", 4, 1, frames=(24, 30), size=(128, 96), seed=1)
    override = yaml.safe_load((REPO / "experiments" / "tbsi_track" / "tiny_demo.yaml").read_text())
    override["TRAIN"].update(EPOCH=3, BATCH_SIZE=4, NUM_WORKER=1, PRINT_INTERVAL=1)
    override["DATA"]["TRAIN"]["SAMPLE_PER_EPOCH"] = 48          # 6 iterations per process per epoch
    cfg_path = tmp_path / "tiny_cli.yaml"
    cfg_path.write_text(yaml.safe_dump(override))
    cmd = [sys.executable, str(REPO / "tracking" / "train.py"), "--script", "tbsi_track", "--config", str(cfg_path),
           "--save_dir", str(tmp_path / "out"), "--mode", "multiple", "--nproc_per_node", "2",
           "--data_dir", str(tmp_path / "data")]
    ck_dir = tmp_path / "out" / "checkpoints" / "train" / "tbsi_track" / "tiny_cli"
    env = dict(os.environ, OMP_NUM_THREADS="1")

    # 1. start, stop (SIGTERM, as kill does) right after the first checkpoint appears
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not (ck_dir / "TBSITrack_ep0001.pth.tar").exists():
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
        assert time.time() < deadline, "no checkpoint after 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out1 = proc.communicate(timeout=60)[0].decode(errors="replace")
    stopped_at = max(int(p.name[12:16]) for p in ck_dir.glob("TBSITrack_ep*.pth.tar"))
    deadline = time.time() + 20
    while _procs_with(str(cfg_path)) and time.time() < deadline:   # no orphaned worker
        time.sleep(0.2)
    assert not _procs_with(str(cfg_path))
    assert out1.count("distributed training: 2 processes, backend gloo") == 1     # rank 0 prints
    assert not list(ck_dir.glob(".*tmp"))                                         # no partial file

    # 2. the same command again: resumes after the last checkpoint and finishes
    res = subprocess.run(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    out2 = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out2[-3000:]
    if stopped_at < 3:
        assert f"TBSITrack_ep{stopped_at:04d}.pth.tar (epoch {stopped_at} done)" in out2
        assert f"epoch {stopped_at + 1}/3 done" in out2 and f"epoch {stopped_at}/3 done" not in out2
    assert sorted(p.name for p in ck_dir.glob("TBSITrack_ep*.pth.tar")) == [
        "TBSITrack_ep0001.pth.tar", "TBSITrack_ep0002.pth.tar", "TBSITrack_ep0003.pth.tar"]
    log = (tmp_path / "out" / "logs" / "tbsi_track-tiny_cli.log").read_text()
    assert "2 process(es)" in log and "samples/s" in log


def test_benchmark_training_runs(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "tracking"))
    import benchmark_training
    out_json = tmp_path / "bench.json"
    assert benchmark_training.main(["--config", "tiny_demo", "--workers", "0", "1", "--batches", "1", "--batch_size", "2",
                                    "--size", "96x80", "--synthetic_dir", str(tmp_path / "syn"), "--device", "cpu",
                                    "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "data loading,  0 worker(s)" in text and "data loading,  1 worker(s)" in text
    assert "model step" in text and "end-to-end training" in text
    import json
    res = json.loads(out_json.read_text())
    assert set(res["data"]) == {"0", "1"} and res["model"] > 0 and res["end_to_end"]["samples_per_s"] > 0


def test_a_data_error_found_in_the_workers_is_one_line(tmp_path, capfd):
    """An error that only the training processes find (here: a TIR frame missing) is printed once,
    without torchrun's failure report."""
    from lib.data.synthetic import generate_dataset
    data = tmp_path / "data"
    generate_dataset(data / "lasher", n_train=2, n_test=0, frames=24, size=(96, 80), seed=1, traps=False)
    seq = sorted(p for p in (data / "lasher" / "trainingset").iterdir() if p.is_dir())[0]
    sorted((seq / "infrared").iterdir())[-1].unlink()
    code = main(["--config", "tiny_demo", "--mode", "multiple", "--nproc_per_node", "2", "--save_dir",
                 str(tmp_path / "out"), "--data_dir", str(data)])
    err = capfd.readouterr().err
    assert code == 2, err
    assert "RGB and TIR frame counts differ" in err and "training failed with the error above" in err
    assert "Root Cause" not in err and "Traceback" not in err
