/*
 * components.c - connected-component labelling by breadth-first flood fill
 * (see components.h).  The queue of the fill is the caller's `pix` array
 * itself: a component's pixels are exactly the queue segment it filled, so
 * the labelling needs no memory besides the map's spare bits and the list of
 * (start, size) pairs.  Each pixel is queued at most once: O(w*h).
 */
#include "components.h"

#include "alloc.h"
#include "orfeas.h"

typedef struct fill {
  uint8_t *m;
  uint32_t w, h;
  uint8_t sel_mask, sel_value, seen;
  int conn8;
  uint32_t *pix;
  size_t tail; /* next free slot of pix */
} fill;

static inline int wanted(const fill *f, size_t p) {
  uint8_t v = f->m[p];
  return (v & f->seen) == 0 && (v & f->sel_mask) == f->sel_value;
}

static inline void push(fill *f, size_t p) {
  f->m[p] |= f->seen;
  f->pix[f->tail++] = (uint32_t)p;
}

/* Floods the component of seed p (wanted) and appends it to out. */
static int flood(fill *f, size_t p, orf__comp_list *out) {
  if (out->count == out->cap) {
    size_t cap = out->cap ? 2 * out->cap : 64;
    orf__comp *items = orf_realloc(out->items, cap * sizeof *items);
    if (!items) return ORF_ENOMEM;
    out->items = items;
    out->cap = cap;
  }
  size_t start = f->tail, head = start;
  const size_t w = f->w, h = f->h;
  push(f, p);
  while (head < f->tail) {
    size_t q = f->pix[head++], x = q % w, y = q / w;
    int l = x > 0, r = x + 1 < w, u = y > 0, d = y + 1 < h;
    if (l && wanted(f, q - 1)) push(f, q - 1);
    if (r && wanted(f, q + 1)) push(f, q + 1);
    if (u && wanted(f, q - w)) push(f, q - w);
    if (d && wanted(f, q + w)) push(f, q + w);
    if (!f->conn8) continue;
    if (u && l && wanted(f, q - w - 1)) push(f, q - w - 1);
    if (u && r && wanted(f, q - w + 1)) push(f, q - w + 1);
    if (d && l && wanted(f, q + w - 1)) push(f, q + w - 1);
    if (d && r && wanted(f, q + w + 1)) push(f, q + w + 1);
  }
  out->items[out->count++] = (orf__comp){(uint32_t)start, (uint32_t)(f->tail - start)};
  return ORF_OK;
}

int orf__components_label(uint8_t *m, uint32_t w, uint32_t h, uint8_t sel_mask, uint8_t sel_value,
                          uint8_t seen, int conn8, int from_border, uint32_t *pix, orf__comp_list *out) {
  fill f = {m, w, h, sel_mask, sel_value, seen, conn8, pix, 0};
  out->count = 0;
  int rc = ORF_OK;
  if (!from_border) {
    for (size_t p = 0; p < (size_t)w * h && rc == ORF_OK; p++)
      if (wanted(&f, p)) rc = flood(&f, p, out);
    return rc;
  }
  /* the outermost ring in a fixed order: top row, bottom row, left and
   * right columns */
  for (size_t x = 0; x < w && rc == ORF_OK; x++) {
    if (wanted(&f, x)) rc = flood(&f, x, out);
    size_t b = (size_t)(h - 1) * w + x;
    if (rc == ORF_OK && wanted(&f, b)) rc = flood(&f, b, out);
  }
  for (size_t y = 1; y + 1 < h && rc == ORF_OK; y++) {
    size_t a = y * w, b = y * w + w - 1;
    if (wanted(&f, a)) rc = flood(&f, a, out);
    if (rc == ORF_OK && wanted(&f, b)) rc = flood(&f, b, out);
  }
  return rc;
}

void orf__comp_list_free(orf__comp_list *l) {
  orf_free(l->items);
  l->items = NULL;
  l->count = l->cap = 0;
}
