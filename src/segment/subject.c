/*
 * subject.c - which pixels are the subject, for one job: the background
 * rule (segment.h, orf__subject_mask) and the subject points.
 *
 *  - alpha: the alpha channel (mask.c);
 *  - color: the border colour model (mask.c);
 *  - subject: the segmentation network's matte (segmenter.c, net.cpp),
 *    brought to the image's resolution by the guided filter, then the
 *    colour model's threshold, hole and speck rules (orf_mask_from_matte);
 *  - auto: alpha when usable; else the colour model when it is confident
 *    (mask.h says when); else the network.  Without a segmenter auto stops
 *    at the colour model.
 *
 * A job has two images (the preview's and the work's): the first decides
 * the source and the second follows it, so every stage of a job shows the
 * same subject.  Points (subject_points) are applied before thresholding:
 * GrabCut grows keep points and cuts at drop points on the matte (net.cpp),
 * then only the regions under keep points stay and the regions under drop
 * points go (orf_mask_apply_points).
 */
#include <string.h>

#include "alloc.h"
#include "segment.h"

void orf__subject_free(orf__subject *st) {
  orf_free(st->matte);
  orf_free(st->preview);
  memset(st, 0, sizeof *st);
}

/* The mask of a soft matte with the points applied. */
static int from_soft(const orf_image *img, const orf_params *p, uint8_t *soft, int source, orf_mask *mask) {
  int rc = ORF_OK;
  int keeps = 0;
  for (int i = 0; i < p->point_count; i++)
    keeps += p->points[i].keep;
  if (keeps) {
    orf__seed seeds[ORF_MAX_POINTS];
    for (int i = 0; i < p->point_count; i++)
      seeds[i] = (orf__seed){p->points[i].x, p->points[i].y, p->points[i].keep};
    rc = orf__matte_grabcut(img->rgba, img->width, img->height, seeds, p->point_count, soft);
  }
  if (!rc) rc = orf_mask_from_matte(soft, img->width, img->height, mask);
  if (!rc) mask->source = source;
  if (!rc) rc = orf_mask_apply_points(mask, p->points, p->point_count);
  if (rc) orf_mask_free(mask);
  return rc;
}

/* The network's mask of img from the job's matte (fetched on first use),
 * or, for the preview image of a new one, from its preview matte. */
static int network_mask(orf__subject *st, const orf_image *img, const orf_params *p, orf_segmenter *seg,
                        const uint8_t *data, size_t size, const orf_limits *lim, int preview,
                        orf_mask *mask) {
  if (!seg) return ORF_ESEGMENT;
  int rc, full = 1;
  uint8_t *got;
  if (!st->matte && preview && !st->preview) {
    if ((rc = orf__segment_preview(seg, data, size, lim, &got, &st->side, &full))) return rc;
    if (full)
      st->matte = got;
    else
      st->preview = got;
  }
  if (!st->matte && !preview && (rc = orf__segment_matte(seg, data, size, lim, &st->matte, &st->side)))
    return rc;
  const uint8_t *use = st->matte ? st->matte : st->preview;
  uint8_t *soft = orf_malloc_array(img->width, img->height);
  if (!soft) return ORF_ENOMEM;
  rc = orf__matte_upsample(use, (uint32_t)st->side, (uint32_t)st->side, img->rgba, img->width, img->height,
                           soft);
  if (!rc) rc = from_soft(img, p, soft, ORF_MASK_FROM_NETWORK, mask);
  orf_free(soft);
  return rc;
}

/* An alpha or colour mask with the points applied (the mask as a hard
 * matte). */
static int points_on_mask(const orf_image *img, const orf_params *p, orf_mask *mask) {
  if (!p->point_count) return ORF_OK;
  size_t n = (size_t)img->width * img->height;
  uint8_t *soft = orf_malloc(n);
  if (!soft) {
    orf_mask_free(mask);
    return ORF_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    soft[i] = mask->data[i] ? 255 : 0;
  int source = mask->source;
  orf_mask_free(mask);
  int rc = from_soft(img, p, soft, source, mask);
  orf_free(soft);
  return rc;
}

int orf__subject_mask(orf__subject *st, const orf_image *img, const orf_params *p, orf_background bg,
                      orf_segmenter *seg, const uint8_t *data, size_t size, const orf_limits *lim,
                      int threads, int preview, orf_mask *mask) {
  memset(mask, 0, sizeof *mask);
  int rc;
  if (!st->decided) {
    switch (bg) {
    case ORF_BG_ALPHA: st->source = ORF_MASK_FROM_ALPHA; break;
    case ORF_BG_COLOR: st->source = ORF_MASK_FROM_BACKGROUND; break;
    case ORF_BG_SUBJECT: st->source = ORF_MASK_FROM_NETWORK; break;
    case ORF_BG_AUTO:
      rc = orf_mask_build(img, ORF_BG_AUTO, threads, mask);
      if (rc && rc != ORF_ENOSUBJECT) return rc;
      if (!seg || (rc == ORF_OK && mask->confident)) {
        if (rc) return rc;
        st->decided = 1;
        st->source = mask->source;
        return points_on_mask(img, p, mask);
      }
      orf_mask_free(mask);
      st->source = ORF_MASK_FROM_NETWORK;
      break;
    default: return ORF_EINVAL;
    }
    st->decided = 1;
  }
  switch (st->source) {
  case ORF_MASK_FROM_NETWORK: return network_mask(st, img, p, seg, data, size, lim, preview, mask);
  case ORF_MASK_FROM_ALPHA: rc = orf_mask_build(img, ORF_BG_ALPHA, threads, mask); break;
  default: rc = orf_mask_build(img, ORF_BG_COLOR, threads, mask); break;
  }
  return rc ? rc : points_on_mask(img, p, mask);
}
