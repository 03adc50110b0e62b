// upload.js - choosing the image: a file picker (a real, focusable
// <input type="file"> whose label is the drop zone, so Tab, Enter and Space
// work) and drag and drop onto the zone; shows the image's preview.

export function initUpload({ input, zone, preview, previews, caption }, onFile) {
  let url = null;
  const take = (file) => {
    if (!file) return;
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(file);
    preview.src = url;
    caption.textContent = `${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB)`;
    previews.hidden = false;
    onFile(file);
  };
  input.addEventListener('change', () => take(input.files[0]));
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'dragend']) zone.addEventListener(type, () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer?.files?.[0]);
  });
}
