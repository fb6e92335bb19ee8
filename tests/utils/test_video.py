"""GIF and MP4 writing/reading: frame counts, sizes, frame rate, atomic output."""

import numpy as np
import pytest

from freezeg.utils.video import read_video, write_video


def moving_square(n=12, size=32):
    frames = []
    for t in range(n):
        f = np.zeros((size, size, 3), np.uint8)
        f[8:16, 2 + t : 10 + t] = (255, 200, 0)
        frames.append(f)
    return frames


def test_gif_round_trip(tmp_path):
    frames = moving_square()
    path = write_video(frames, tmp_path / "a.gif", fps=25)
    video = read_video(path)
    assert len(video) == 12 and video.frames[0].shape == (32, 32, 3)
    assert video.fps == pytest.approx(25, rel=0.05)
    assert np.abs(video.frames[5].astype(int) - frames[5]).max() <= 8  # palette quantisation only


def test_mp4_round_trip_with_odd_size(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    frames = [f[:31, :33] for f in moving_square(size=40)]
    path = write_video(frames, tmp_path / "a.mp4", fps=30)
    video = read_video(path)
    assert len(video) == 12
    assert video.frames[0].shape == (32, 34, 3)  # padded to even for yuv420p
    assert video.fps == pytest.approx(30)
    assert np.abs(video.frames[3][:31, :33].astype(int) - frames[3]).mean() < 12  # lossy but close


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown animation format"):
        write_video(moving_square(), tmp_path / "a.png")
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "a.gif")
    (tmp_path / "bad.mp4").write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.mp4"):
        read_video(tmp_path / "bad.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]  # no temp files left
