// Run in the page by tests/browser_support.accessibility_problems: controls without an
// accessible name and text below WCAG AA contrast, among what is visible now.
(() => {
  const problems = [];
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 &&
      style.visibility !== "hidden" && style.display !== "none";
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") +
    (el.name ? `[name=${el.name}]` : "");
  const controls = "input:not([type=hidden]), select, textarea, button, video, canvas, a[href]";
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label") ||
      el.getAttribute("aria-labelledby") || el.textContent.trim() || el.getAttribute("title") ||
      [...el.querySelectorAll("img[alt]")].some((img) => img.alt.trim());
    if (!named) problems.push(`no accessible name: ${describe(el)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (visible(img) && !img.hasAttribute("alt")) problems.push(`no alt text: ${describe(img)}`);
  }
  // WCAG contrast of each visible text against the first opaque background behind it.
  const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length === 3 || (color.length === 4 && color[3] === 1)) return color.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el) || !visible(el)) continue;
    if (el.closest("video, canvas, .visually-hidden")) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const fg = rgb(style.color);
    if (fg.length === 4 && fg[3] < 1) continue;
    const [a, b] = [luminance(fg.slice(0, 3)), luminance(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      const sample = walker.currentNode.textContent.trim().slice(0, 30);
      problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${describe(el)} "${sample}"`);
    }
  }
  return problems;
})
