/*
 * net.h - the C interface of net.cpp, the engine's one C++ file: the
 * segmentation network run by OpenCV's DNN module, the guided filter and
 * GrabCut (segment.h says where each comes from).  Plain C types only, so
 * that the C++ side needs none of the engine's C11 headers (orfeas.h uses
 * <stdatomic.h>); its error codes are the engine's (segment.h checks).
 * Every OpenCV exception stops at these functions.
 */
#ifndef ORF_SEGMENT_NET_H
#define ORF_SEGMENT_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ORF__NET_OK = 0, ORF__NET_ENOMEM = -1, ORF__NET_EIO = -8, ORF__NET_ESEGMENT = -14 };

/* The network's default input size when the graph does not say. */
#define ORF_SEG_DEFAULT_SIDE 320

/* A subject point (orf_point's fields): x, y fractions 0..1; keep 1 or 0. */
typedef struct orf__seed {
  double x, y;
  int keep;
} orf__seed;

typedef struct orf__net orf__net;

/* Loads the ONNX model at path into *out (free with orf__net_free).  The
 * input size comes from the graph's first input when its last two
 * dimensions are fixed and equal, else ORF_SEG_DEFAULT_SIDE; the output
 * is the graph's first output.  Errors: ORF__NET_EIO (cannot open or read),
 * ORF__NET_ESEGMENT (not a model OpenCV can read), ORF__NET_ENOMEM; a sentence
 * naming the file goes into err.  Sets OpenCV's (process-wide) thread
 * count to threads: 1 runs OpenCV sequentially, with no worker threads;
 * <= 0 every core. */
int orf__net_load(const char *path, int threads, orf__net **out, char *err, size_t err_size);

void orf__net_free(orf__net *n);

/* The (square) input size of the network. */
int orf__net_side(const orf__net *n);

/* Runs the network on the w x h RGBA image: resized to side x side
 * (area averaging), normalised with ImageNet's mean and deviation, and the
 * first output (a saliency map in 0..1) written as side*side bytes
 * (0..255) into matte.  Not thread-safe for one net: the caller holds a
 * lock.  Errors: ORF__NET_ESEGMENT (OpenCV failed, or the output is not
 * side x side), ORF__NET_ENOMEM. */
int orf__net_run(orf__net *n, const uint8_t *rgba, uint32_t w, uint32_t h, int preview, uint8_t *matte);

/* Whether n has a preview network: with preview set, orf__net_run runs
 * that instead, a cut of the graph that computes U^2-Net's side output of
 * decoder stage 2 at about half the work (net.cpp says why and how well it
 * agrees); ORF__NET_ESEGMENT when n has none. */
int orf__net_has_preview(const orf__net *n);

/* Brings a mw x mh matte (0..255, covering the whole image whatever its
 * aspect) to the image's resolution, into soft (width*height bytes): resized
 * bilinearly, then the guided filter of He, Sun and Tang ("Guided Image
 * Filtering", ECCV 2010 / TPAMI 2013) with the image's colours as the guide, so
 * the outline follows the image's own edges.  Radius: twice the scale
 * factor plus 2 pixels; eps 1e-3 (on a 0..1 guide).  Errors: ORF__NET_ENOMEM,
 * ORF__NET_ESEGMENT. */
int orf__matte_upsample(const uint8_t *matte, uint32_t mw, uint32_t mh, const uint8_t *rgba, uint32_t w,
                        uint32_t h, uint8_t *soft);

/* Grows the subject from keep points and cuts it at drop points with
 * GrabCut (Rother, Kolmogorov, Blake, "GrabCut: interactive foreground
 * extraction using iterated graph cuts", SIGGRAPH 2004), on a copy of the
 * image
 * at most ORF_SEG_GRABCUT_SIDE pixels on its longer side: sure foreground
 * in a disc around each keep point and where soft >= 128, sure background
 * around each drop point, probable foreground in the box around the keep
 * points grown by a quarter of the frame, probable background elsewhere;
 * 5 iterations.  Without keep points soft is left as it is (drop points
 * need no growing: orf_mask_apply_points removes their regions).  The result, brought back to the image's
 * resolution by the guided filter, replaces soft.  Errors: ORF__NET_ENOMEM, ORF__NET_ESEGMENT. */
#define ORF_SEG_GRABCUT_SIDE 320
int orf__matte_grabcut(const uint8_t *rgba, uint32_t w, uint32_t h, const orf__seed *pts, int count,
                       uint8_t *soft);

#ifdef __cplusplus
}
#endif
#endif
