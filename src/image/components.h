/*
 * components.h - connected-component labelling of binary pixel maps, the
 * internal tool of mask.c (background flood fill, hole detection, subject
 * component selection).  Not part of the engine's interface.
 */
#ifndef ORF_COMPONENTS_H
#define ORF_COMPONENTS_H

#include <stddef.h>
#include <stdint.h>

/* One component: its pixels are pix[start .. start+size) of the labelling. */
typedef struct orf__comp {
  uint32_t start, size;
} orf__comp;

/* A growable list of components; zero-initialise, free with
 * orf__comp_list_free(). */
typedef struct orf__comp_list {
  orf__comp *items;
  size_t count, cap;
} orf__comp_list;

/* Labels the connected components of the w x h map m formed by the pixels p
 * with (m[p] & sel_mask) == sel_value whose `seen` bit is clear (seen must
 * not be in sel_mask).  conn8: 8-connected, else 4-connected.  from_border:
 * only the components that touch the frame's outermost ring of pixels.
 * Every labelled pixel gets its `seen` bit set; their indices y*w+x are
 * written to pix (w*h entries, caller's) component after component in
 * breadth-first order, and out->items[0 .. out->count) says where each one
 * lies (out is emptied first; components in the order of their first pixel
 * met in the scan, so the result is deterministic).  Serial.  Returns 0, or
 * ORF_ENOMEM (out keeps what it had allocated; free it as usual). */
int orf__components_label(uint8_t *m, uint32_t w, uint32_t h, uint8_t sel_mask, uint8_t sel_value,
                          uint8_t seen, int conn8, int from_border, uint32_t *pix, orf__comp_list *out);

/* Frees what the list owns and zeroes it. */
void orf__comp_list_free(orf__comp_list *l);

#endif
