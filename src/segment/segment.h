/*
 * segment.h - finding the subject of a photograph with a salient-object
 * network: the engine's side of src/segment/.  Stage 2 of the pipeline,
 * beside mask.h's alpha and colour model.
 *
 *   net.cpp      (net.h) the network (U^2-Net, Qin et al. 2020) run by OpenCV's DNN
 *                module; the matte brought to an image's resolution by the
 *                guided filter (He, Sun, Tang 2013); keep points grown by
 *                GrabCut (Rother, Kolmogorov, Blake 2004).  The only C++ of
 *                the engine: OpenCV's API is C++, and every exception stops
 *                at these C functions.
 *   segmenter.c  orf_segmenter (orfeas.h): the model, the lock it runs
 *                under, the matte cache keyed by SHA-256 of the image bytes
 *                (LRU by bytes, single flight), the counters.
 *   subject.c    the background rule of a job (auto, color, subject) and
 *                the points, from an image to an orf_mask.
 *
 * Internal names are orf__; nothing here is part of the public header.
 */
#ifndef ORF_SEGMENT_H
#define ORF_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "mask.h"
#include "net.h"
#include "orfeas.h"

/* net.h's codes are the engine's */
_Static_assert((int)ORF__NET_OK == (int)ORF_OK && (int)ORF__NET_ENOMEM == (int)ORF_ENOMEM &&
                   (int)ORF__NET_EIO == (int)ORF_EIO && (int)ORF__NET_ESEGMENT == (int)ORF_ESEGMENT,
               "net.h error codes");

/* ---- segmenter.c -------------------------------------------------------- */

/* The network's matte of the image in data (size bytes): from the cache,
 * from a run of another job in flight (waited for), or from a run now on
 * the image decoded at least the network's side (lim: the decoder's
 * limits).  *matte (side*side bytes, orf_malloc'd, the caller frees it)
 * and *side.  Errors: decoding's, ORF_ESEGMENT, ORF_ENOMEM. */
int orf__segment_matte(orf_segmenter *s, const uint8_t *data, size_t size, const orf_limits *lim,
                       uint8_t **matte, int *side);

/* The matte for a job's first stages: the full one when it is cached or
 * being computed (*full 1), else the preview network's (segmenter.c), the
 * same size (*full 0); orf__segment_matte when the network has no
 * preview.  Same returns. */
int orf__segment_preview(orf_segmenter *s, const uint8_t *data, size_t size, const orf_limits *lim,
                         uint8_t **matte, int *side, int *full);

/* ---- subject.c ---------------------------------------------------------- */

/* What a job decided about its subject, kept between its two images: the
 * first image decides (alpha, a confident colour model, or the network)
 * and the second follows, so both stages use the same source. */
typedef struct orf__subject {
  int decided;      /* 0 until the first call */
  int source;       /* ORF_MASK_FROM_* chosen */
  uint8_t *matte;   /* the network's matte when source is NETWORK (orf_malloc'd) */
  uint8_t *preview; /* its preview, for the first stages of a new image (orf_malloc'd) */
  int side;
} orf__subject;

/* The subject mask of img for background bg (auto, alpha, color, subject;
 * none is the caller's) with p's subject points applied, into *mask.
 * data/size: the image's bytes, for the network's matte (through seg's
 * cache).  seg may be NULL: auto then stops at the colour model and
 * subject fails with ORF_ESEGMENT.  preview: img is a job's small image
 * (its first two stages), which takes the network's preview matte when
 * the full one is not cached yet (orf__segment_preview).  Errors: mask.h's,
 * the network's. */
int orf__subject_mask(orf__subject *st, const orf_image *img, const orf_params *p, orf_background bg,
                      orf_segmenter *seg, const uint8_t *data, size_t size, const orf_limits *lim,
                      int threads, int preview, orf_mask *mask);

void orf__subject_free(orf__subject *st);

#endif
