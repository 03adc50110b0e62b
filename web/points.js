// points.js - subject points on the subject preview (subject_points): a
// click on the preview keeps the region under it, a shift-click (or a click
// while "Clicks drop" is on, for touch screens) drops it.  The points are
// drawn on the preview, as fractions of the image so they stay put when the
// page resizes; the reset button clears them.  onChange gets the list as the
// parameter's text ("+x,y;-x,y", up to 16) after every change.

const MAX_POINTS = 16;

// The rectangle the image's pixels take inside its box (object-fit: contain).
function contentRect(img) {
  const w = img.clientWidth, h = img.clientHeight;
  const nw = img.naturalWidth || w, nh = img.naturalHeight || h;
  const k = Math.min(w / nw, h / nh);
  return { x: (w - nw * k) / 2, y: (h - nh * k) / 2, w: nw * k, h: nh * k, boxW: w, boxH: h };
}

export function initPoints({ img, layer, drop, reset, count }, onChange) {
  let points = [];
  const text = () => points.map((p) => `${p.keep ? '+' : '-'}${p.x.toFixed(4)},${p.y.toFixed(4)}`).join(';');

  function draw() {
    layer.replaceChildren();
    if (img.classList.contains('empty') || !img.naturalWidth) return;
    const r = contentRect(img);
    for (const p of points) {
      const dot = document.createElement('span');
      dot.className = `point ${p.keep ? 'keep' : 'drop'}`;
      dot.style.left = `${((r.x + p.x * r.w) / r.boxW) * 100}%`;
      dot.style.top = `${((r.y + p.y * r.h) / r.boxH) * 100}%`;
      dot.title = p.keep ? 'kept' : 'dropped';
      layer.append(dot);
    }
  }

  function changed() {
    count.textContent = points.length
      ? `${points.filter((p) => p.keep).length} kept, ${points.filter((p) => !p.keep).length} dropped`
      : '';
    reset.disabled = points.length === 0;
    draw();
    onChange(text());
  }

  img.addEventListener('click', (e) => {
    if (img.classList.contains('empty') || !img.naturalWidth || points.length >= MAX_POINTS) return;
    const r = contentRect(img);
    const x = (e.offsetX - r.x) / r.w, y = (e.offsetY - r.y) / r.h;
    if (x < 0 || x > 1 || y < 0 || y > 1) return;
    points.push({ x, y, keep: !(e.shiftKey || drop.checked) });
    changed();
  });
  img.addEventListener('load', draw);
  reset.addEventListener('click', () => {
    points = [];
    changed();
  });
  reset.disabled = true;
  return {
    text,
    // a new image: its points are gone
    clear() {
      points = [];
      count.textContent = '';
      reset.disabled = true;
      draw();
    },
  };
}
