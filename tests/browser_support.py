"""Real browsers for the tests: Debian's chromium driven by Playwright for Python.

Never a downloaded browser: the executable is /usr/bin/chromium (installed by
scripts/system-deps.sh). The flags are the ones that work on these machines
(../shared/design.md): a fake camera and microphone without a permission prompt,
optionally playing a y4m file, and real IP addresses in ICE candidates instead of
mDNS names, which a server cannot resolve.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not installed (Debian package chromium; make test installs it)"
    return None


class Chromium:
    """Launches Debian's Chromium, with a fake camera playing `camera` if given, and
    closes every browser it launched (tests/conftest.py, the `chromium` fixture)."""

    def __init__(self, playwright: Playwright) -> None:
        self._playwright = playwright
        self._launched: list[Browser] = []

    async def launch(self, camera: Path | None = None) -> Browser:
        args = list(FLAGS)
        if camera is not None:
            args.append(f"--use-file-for-fake-video-capture={camera}")
        browser = await self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        self._launched.append(browser)
        return browser

    async def close(self) -> None:
        for browser in self._launched:
            await browser.close()


def y4m_from_video(source: Path, target: Path, *, seconds: float = 8.0) -> Path:
    """A 640x480 15 fps y4m of a real clip, for Chromium's fake camera."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg (Debian) is needed to make a y4m"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-t",
            str(seconds),
            "-vf",
            "scale=640:480:force_original_aspect_ratio=increase,crop=640:480,fps=15",
            "-pix_fmt",
            "yuv420p",
            str(target),
        ],
        check=True,
        timeout=120,
    )
    return target


ANSWERING_CAMERA = (Path(__file__).parent / "answering_camera.js").read_text(encoding="utf-8")


async def answering_camera(context: BrowserContext, clip: Path) -> None:
    """Every page of `context` films a real face (`clip`, d12) that makes the
    movement each liveness prompt on the page asks for, when the page shows it
    (tests/answering_camera.js). The server decides when to prompt, so a clip
    played from its start could not answer in time."""
    capture = cv2.VideoCapture(str(clip))
    frames: list[bytes] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())
    capture.release()

    async def serve(route: Route) -> None:
        index = int(route.request.url.rsplit("/", 1)[1].removesuffix(".jpg"))
        await route.fulfill(body=frames[index], content_type="image/jpeg")

    await context.route("**/__test_camera/*.jpg", serve)
    await context.add_init_script(ANSWERING_CAMERA)


def y4m_from_photo(photo: Path, target: Path, *, seconds: float = 6.0) -> Path:
    """A face photo slowly panned and zoomed: a moving picture with a face in it,
    for when the shared videos are not present."""
    image = cv2.imread(str(photo))
    assert image is not None, photo
    height, width = 480, 640
    frames = int(seconds * 15)
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            zoom = 1.0 + 0.08 * np.sin(i / frames * 2 * np.pi)
            shift = 20 * np.sin(i / frames * 4 * np.pi)
            matrix = np.array(
                [[zoom, 0, shift + (1 - zoom) * width / 2], [0, zoom, (1 - zoom) * height / 2]]
            )
            framed = cv2.resize(image, (width, height))
            frame = cv2.warpAffine(framed, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
            out.write(b"FRAME\n" + yuv.tobytes())
    return target


VIDEO_STATS = """
async (selector) => {
  const video = document.querySelector(selector);
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const context = canvas.getContext("2d");
  const grab = () => {
    context.drawImage(video, 0, 0, 64, 48);
    return Array.from(context.getImageData(0, 0, 64, 48).data);
  };
  const first = grab();
  await new Promise((resolve) => setTimeout(resolve, 700));
  const second = grab();
  let brightness = 0, change = 0;
  for (let i = 0; i < first.length; i += 4) {
    brightness += (second[i] + second[i + 1] + second[i + 2]) / 3;
    change += Math.abs(second[i] - first[i]);
  }
  const pixels = first.length / 4;
  return { width: video.videoWidth, height: video.videoHeight,
           brightness: brightness / pixels, change: change / pixels };
}
"""


async def video_stats(page: Page, selector: str) -> dict[str, Any] | None:
    """Size, mean brightness and mean change over 0.7 s of a playing <video>."""
    stats: dict[str, Any] | None = await page.evaluate(VIDEO_STATS, selector)
    return stats


async def wait_for_moving_video(page: Page, selector: str, *, tries: int = 40) -> dict[str, Any]:
    """Stats of the video once it shows a moving, non-black picture."""
    last = None
    for _ in range(tries):
        last = await video_stats(page, selector)
        if last and last["brightness"] > 20 and last["change"] > 0.5:
            return last
        await page.wait_for_timeout(500)
    raise AssertionError(f"{selector} shows no moving picture: {last}")


async def click_when_ready(page: Page, selector: str) -> None:
    """Click a button of the step the page shows next: each step reloads the page,
    and a button works once the new page's scripts ran (module scripts run
    before DOMContentLoaded)."""
    await page.wait_for_selector(selector, state="visible")
    await page.wait_for_load_state("domcontentloaded")
    await page.click(selector)


async def pass_liveness(page: Page, prefix: str) -> None:
    """Run the check as the applicant would: a second attempt after a failure (the
    product allows three). On a loaded 2-core machine the page's camera, the
    browser's encoder and the server's frame judge compete for the CPU, and a
    judge that falls behind skips frames (a blink among them); every attempt is
    checked in full, and two failures fail the test."""
    outcomes = []
    for _attempt in range(2):
        await click_when_ready(page, f"#{prefix}-start")
        status = page.locator(f"#{prefix}-status.pass, #{prefix}-status.error")
        await status.wait_for(timeout=90_000)
        outcomes.append(await status.inner_text())
        if "pass" in (await status.get_attribute("class") or ""):
            return
    raise AssertionError(f"liveness failed twice: {outcomes}")


async def consent_and_check_device(page: Page) -> None:
    """The applicant's first steps in the page: consent, biometric consent on its
    own screen, then the device check (fake camera and microphone pass it), after
    which the page shows the documents."""
    await page.check('input[name="recording"]')
    await page.check('input[name="data_use"]')
    await page.click("#consent-form button[type=submit]")
    await click_when_ready(page, "#biometrics-agree")
    await click_when_ready(page, "#device-check-start")
    await page.wait_for_selector("#device-status.pass")
    # Every item passed: one verdict each, and no fix-it hint shows.
    assert await page.locator("#device-checks .hint:visible").count() == 0
    await page.wait_for_selector("#documents", timeout=15_000)


ACCESSIBILITY = (Path(__file__).parent / "accessibility.js").read_text(encoding="utf-8")


async def accessibility_problems(page: Page) -> list[str]:
    """Controls without an accessible name and text below WCAG AA contrast, on what
    the page shows now."""
    return list(await page.evaluate(ACCESSIBILITY))
