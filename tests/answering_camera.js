// A camera for the browser tests: a real face (tests/data/video/d12.mp4, its
// frames served to the page as /__test_camera/<n>.jpg) that makes the movement
// each liveness prompt on the page asks for as soon as the page shows it, as a
// person would, and is at rest otherwise. It stands in for getUserMedia's video;
// the audio stays Chromium's fake microphone. Installed by
// browser_support.answering_camera, which serves the frames named here.
(() => {
  const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);
  // Frames of d12 (25 fps): at rest, a blink, a turn to the person's right, the
  // mouth opened wide.
  const REST = range(0, 15);
  const MOVES = { blink: range(44, 59), turn_right: range(71, 87), open_mouth: range(115, 132) };
  // The eyes are shut in these: held longer, as a person asked to blink does.
  const SHUT = new Set(range(49, 52));
  const TICK_MS = 40;
  const queue = [];
  let messages = null;
  let lastPrompt = { challenge: null, at: 0 };

  function text(key) {
    if (!messages) {
      const node = document.getElementById("messages");
      if (!node) return undefined;
      messages = JSON.parse(node.textContent);
    }
    return messages[key];
  }

  function challengeShown(shown) {
    return Object.keys(MOVES).find((name) => text(`challenge_${name}`) === shown) || null;
  }

  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      const node = mutation.target.nodeType === 1 ? mutation.target : mutation.target.parentElement;
      if (!node || !node.classList) continue;
      const shown = (node.textContent || "").trim();
      if (!node.classList.contains("prompt")) continue;
      const challenge = challengeShown(shown);
      // One prompt may show in two places on the page: one movement for it.
      const now = Date.now();
      if (challenge && !(challenge === lastPrompt.challenge && now - lastPrompt.at < 1000)) {
        queue.push(challenge);
        lastPrompt = { challenge, at: now };
      }
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });

  async function image(name) {
    const loaded = new Image();
    loaded.src = `/__test_camera/${name}.jpg`;
    await loaded.decode();
    return loaded;
  }

  let images = null;
  async function load() {
    if (!images) {
      images = {};
      const wanted = [...REST, ...Object.values(MOVES).flat()];
      await Promise.all(wanted.map(async (index) => { images[index] = await image(index); }));
    }
    return images;
  }

  // One camera drawing at a time: a page that opens the camera again (the call
  // turning to the back camera and back) gets a new stream, the old one stops.
  let drawing = null;
  async function face() {
    const frames = await load();
    clearInterval(drawing);
    const canvas = document.createElement("canvas");
    canvas.width = 640;
    canvas.height = 480;
    const context = canvas.getContext("2d");
    let sequence = [];
    let rest = 0;
    drawing = setInterval(() => {
      if (!sequence.length && queue.length) {
        // A movement at a third of its speed: each frame for three ticks.
        sequence = MOVES[queue.shift()].flatMap((i) => Array(SHUT.has(i) ? 9 : 3).fill(i));
      }
      let index;
      if (sequence.length) {
        index = sequence.shift();
      } else {
        // At rest: the first half second, back and forth.
        const step = rest % (2 * REST.length);
        index = REST[step < REST.length ? step : 2 * REST.length - 1 - step];
        rest += 1;
      }
      // d12 is 512 x 512: scaled to the width, centred.
      context.drawImage(frames[index], 0, -80, 640, 640);
    }, TICK_MS);
    return canvas.captureStream(25);
  }

  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints = {}) => {
    if (!constraints.video) return real(constraints);
    const stream = await face();
    if (constraints.audio) {
      (await real({ audio: true })).getAudioTracks().forEach((track) => stream.addTrack(track));
    }
    return stream;
  };
})();
