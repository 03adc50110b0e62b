/*
 * net.cpp - the segmentation network and the image operations around it,
 * with OpenCV (segment.h).  The engine's one C++ file: OpenCV's API is C++,
 * so it stays here behind C functions, and every exception (cv::Exception,
 * std::bad_alloc, anything) is caught at those functions and becomes an
 * ORF_E* code.  Nothing here keeps global state but OpenCV's own thread
 * count.
 *
 *  - The network: a salient-object network in ONNX, by default U^2-Net's
 *    small model u2netp (Qin, Zhang, Huang, Dehghan, Zaiane, Jagersand,
 *    "U^2-Net: Going deeper with nested U-structure for salient object
 *    detection", Pattern Recognition 106, 2020), read by OpenCV's ONNX
 *    importer and run by its DNN module.  Input: one RGB image at side x
 *    side, scaled to 0..1 and normalised with ImageNet's mean (0.485,
 *    0.456, 0.406) and deviation (0.229, 0.224, 0.225), as the model was
 *    trained; output: the graph's first output, the fused saliency map
 *    (a sigmoid, 0..1).  The input size is read from the file itself (a
 *    few fields of the ONNX protobuf, below), since OpenCV does not say.
 *  - Upsampling: the guided filter (He, Sun, Tang, "Guided Image
 *    Filtering", TPAMI 35(6), 2013; OpenCV contrib's ximgproc), guided by
 *    the image's colours, so that the outline follows the image's edges
 *    rather than a blurred 320-pixel grid.
 *  - Points: GrabCut (Rother, Kolmogorov, Blake, "GrabCut: interactive
 *    foreground extraction using iterated graph cuts", SIGGRAPH 2004;
 *    OpenCV's imgproc), seeded with sure labels at the points and probable
 *    ones from the matte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>

#include "net.h"

#define GUIDED_EPS 1e-3      /* regularisation of the guided filter, guide in 0..1 */
#define GRABCUT_ITERS 5      /* Rother et al. converge in a few */
#define POINT_DISC_FRAC 0.02 /* radius of a point's sure label, of the longer side */
#define BOX_MARGIN 0.25      /* GrabCut's box: the keep points' box grown by this, of the frame */
#define BORDER_BAND 0.03     /* the frame's band kept outside the box */
#define MAX_MODEL_BYTES ((size_t)1 << 30)

struct orf__net {
  cv::dnn::Net net;
  std::string output; /* the graph's first output */
  int side;
  std::string preview_model; /* the preview network's graph; empty when there is none (below) */
  std::string preview_output;
};

static void say(char *err, size_t n, const char *fmt, const char *path, const char *what) {
  if (err && n) snprintf(err, n, fmt, path, what);
}

/* ---- the few ONNX protobuf fields we read --------------------------------
 * ModelProto.graph (7) -> GraphProto.input (11) / output (12) ->
 * ValueInfoProto.name (1), .type (2) -> TypeProto.tensor_type (1) ->
 * .shape (2) -> TensorShapeProto.dim (1) -> Dimension.dim_value (1). */

struct pb {
  const uint8_t *p, *end;
};

static bool pb_varint(pb &b, uint64_t &v) {
  v = 0;
  for (int s = 0; s < 64 && b.p < b.end; s += 7) {
    uint8_t c = *b.p++;
    v |= (uint64_t)(c & 0x7f) << s;
    if (!(c & 0x80)) return true;
  }
  return false;
}

/* The next field: its number, wire type, and for length-delimited ones the
 * sub-message in sub.  Skips the payload of the others.  false at the end
 * or on malformed data. */
static bool pb_next(pb &b, uint32_t &field, pb &sub, uint64_t &value) {
  uint64_t key;
  if (b.p >= b.end || !pb_varint(b, key)) return false;
  field = (uint32_t)(key >> 3);
  switch (key & 7) {
  case 0: return pb_varint(b, value);
  case 1:
    if (b.end - b.p < 8) return false;
    b.p += 8;
    return true;
  case 5:
    if (b.end - b.p < 4) return false;
    b.p += 4;
    return true;
  case 2: {
    uint64_t len;
    if (!pb_varint(b, len) || len > (uint64_t)(b.end - b.p)) return false;
    sub.p = b.p;
    sub.end = b.p + len;
    b.p += len;
    value = len;
    return true;
  }
  default: return false;
  }
}

/* The first sub-message with this field number, or false. */
static bool pb_find(pb b, uint32_t want, pb &out) {
  uint32_t f;
  pb sub{nullptr, nullptr};
  uint64_t v;
  while (pb_next(b, f, sub, v))
    if (f == want && sub.p) {
      out = sub;
      return true;
    } else {
      sub.p = nullptr;
    }
  return false;
}

/* From a ValueInfoProto: its name, and its shape's fixed dims (-1 where a
 * dim is symbolic). */
static void value_info(pb vi, std::string &name, std::vector<long> &dims) {
  pb s;
  if (pb_find(vi, 1, s)) name.assign((const char *)s.p, (size_t)(s.end - s.p));
  pb type, tensor, shape;
  if (!pb_find(vi, 2, type) || !pb_find(type, 1, tensor) || !pb_find(tensor, 2, shape)) return;
  uint32_t f;
  pb dim{nullptr, nullptr};
  uint64_t v;
  while (pb_next(shape, f, dim, v)) {
    if (f != 1 || !dim.p) continue;
    long d = -1;
    uint32_t f2;
    pb sub2{nullptr, nullptr};
    uint64_t v2;
    pb walk = dim;
    while (pb_next(walk, f2, sub2, v2))
      if (f2 == 1 && !sub2.p) d = (long)v2;
    dims.push_back(d);
    dim.p = nullptr;
  }
}

/* The graph's first input's square size (0 when it does not say) and its
 * first output's name.  Graph inputs that are initialisers (old exports
 * list weights as inputs) have no 4-D shape and are passed over. */
static void onnx_io(const uint8_t *data, size_t size, int &side, std::string &output) {
  side = 0;
  pb model{data, data + size}, graph;
  if (!pb_find(model, 7, graph)) return;
  uint32_t f;
  pb sub{nullptr, nullptr};
  uint64_t v;
  bool in_done = false;
  pb walk = graph;
  while (pb_next(walk, f, sub, v)) {
    if (sub.p && f == 11 && !in_done) {
      std::string name;
      std::vector<long> dims;
      value_info(sub, name, dims);
      if (dims.size() == 4) {
        in_done = true;
        if (dims[2] > 0 && dims[2] == dims[3] && dims[2] <= 4096) side = (int)dims[2];
      }
    } else if (sub.p && f == 12 && output.empty()) {
      std::vector<long> dims;
      value_info(sub, output, dims);
    }
    sub.p = nullptr;
  }
}

/* ---- the preview network ------------------------------------------------
 * U^2-Net is trained with deep supervision: besides the fused map (output
 * 0) each decoder stage has a side output, a saliency map of its own,
 * upsampled to the input's size.  The side output of stage 2 (output 2)
 * needs the encoder and decoder stages 6 to 2 but not stage 1, the full-
 * resolution RSU-7 that is most of the network's work: for u2netp at 320,
 * 18.2 of 39.7 GFLOPs (OpenCV's count), 1.0 s of CPU against 2.0 (2 threads,
 * the development machine).  Its map agrees with the fused one: IoU of the
 * two thresholded at one half 0.975 (messi5), 0.992 (fruits), 0.983
 * (squirrel_cls), 0.912 (baboon), 0.963 (home), 0.989 (HappyFish), 0.990
 * (butterfly), 0.996 (apple), 0.923 (starry_night), 0.884 (the alphamat
 * plant).  Running the whole network at a smaller input was measured too,
 * and is not used: at 224 pixels it costs as much and its map strays far
 * more (IoU 0.46 on home.jpg, 0.53 on starry_night.jpg, 0.73 on baboon).
 * So the previews of a new photograph use that side output, and the
 * refined and final stages the fused map (segmenter.c).
 *
 * OpenCV runs every layer before the one asked for, in the graph's order,
 * so the preview network is a graph of its own, cut from the model's
 * bytes: the nodes output 2 depends on, where its last Resize takes its
 * size (1, 1, side, side) from a constant instead of from the shape of
 * side output 1 (which would pull stage 1 back in).  Built only when the
 * graph has that form (output 2 = Sigmoid(Resize(x, roi, scales, sizes)));
 * for another model the previews use its full output. */

static void put_varint(std::string &o, uint64_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    o.push_back((char)(v ? c | 0x80 : c));
  } while (v);
}

static void put_bytes(std::string &o, uint32_t field, const void *p, size_t n) {
  put_varint(o, (uint64_t)field << 3 | 2);
  put_varint(o, n);
  o.append((const char *)p, n);
}

/* One field of a message as it lies in the bytes: [start, end) covers its
 * key too; sub is its payload when length-delimited. */
struct pb_field {
  uint32_t no;
  const uint8_t *start, *end;
  pb sub;
};

static bool pb_fields(pb b, std::vector<pb_field> &out) {
  for (;;) {
    const uint8_t *at = b.p;
    uint32_t f;
    pb sub{nullptr, nullptr};
    uint64_t v;
    if (b.p >= b.end) return true;
    if (!pb_next(b, f, sub, v)) return false;
    out.push_back(pb_field{f, at, b.p, sub});
  }
}

static std::string pb_str(const pb &s) { return std::string((const char *)s.p, (size_t)(s.end - s.p)); }

struct pb_node {
  std::vector<std::string> in, out;
  std::string op;
};

/* The model's bytes for the preview network of input size side (above), or
 * false when the graph is not of that form. */
static bool preview_model(const uint8_t *data, size_t size, int side, std::string &model,
                          std::string &output) {
  std::vector<pb_field> mf, gf;
  if (!pb_fields(pb{data, data + size}, mf)) return false;
  const pb_field *graph = nullptr;
  for (const pb_field &f : mf)
    if (f.no == 7 && f.sub.p) graph = &f;
  if (!graph || !pb_fields(graph->sub, gf)) return false;
  std::vector<pb_node> nodes;
  std::vector<size_t> node_field; /* gf index of each node */
  std::vector<std::string> outputs;
  for (size_t i = 0; i < gf.size(); i++) {
    if (gf[i].no == 1 && gf[i].sub.p) {
      std::vector<pb_field> nf;
      if (!pb_fields(gf[i].sub, nf)) return false;
      pb_node n;
      for (const pb_field &x : nf)
        if (x.sub.p && x.no == 1)
          n.in.push_back(pb_str(x.sub));
        else if (x.sub.p && x.no == 2)
          n.out.push_back(pb_str(x.sub));
        else if (x.sub.p && x.no == 4)
          n.op = pb_str(x.sub);
      nodes.push_back(n);
      node_field.push_back(i);
    } else if (gf[i].no == 12 && gf[i].sub.p) {
      std::string name;
      std::vector<long> dims;
      value_info(gf[i].sub, name, dims);
      outputs.push_back(name);
    }
  }
  if (outputs.size() < 3) return false;
  std::map<std::string, size_t> producer;
  for (size_t k = 0; k < nodes.size(); k++)
    for (const std::string &o : nodes[k].out)
      producer[o] = k;
  const std::string &want = outputs[2];
  auto sig = producer.find(want);
  if (sig == producer.end() || nodes[sig->second].op != "Sigmoid" || nodes[sig->second].in.empty())
    return false;
  auto rz = producer.find(nodes[sig->second].in[0]);
  if (rz == producer.end() || nodes[rz->second].op != "Resize" || nodes[rz->second].in.size() != 4)
    return false;
  size_t resize = rz->second;
  /* the nodes output 2 needs, the sizes of its Resize left out */
  std::vector<char> keep(nodes.size(), 0);
  std::vector<std::string> stack{want};
  while (!stack.empty()) {
    std::string t = stack.back();
    stack.pop_back();
    auto it = producer.find(t);
    if (it == producer.end() || keep[it->second]) continue;
    keep[it->second] = 1;
    const pb_node &n = nodes[it->second];
    for (size_t i = 0; i < n.in.size(); i++)
      if (!(it->second == resize && i == 3) && !n.in[i].empty()) stack.push_back(n.in[i]);
  }
  const std::string sizes_name = "orfeas_preview_sizes";
  std::string g;
  size_t node = 0;
  for (size_t i = 0; i < gf.size(); i++) {
    const pb_field &f = gf[i];
    if (f.no == 1 && f.sub.p) {
      size_t k = node++;
      if (!keep[k]) continue;
      if (k != resize) {
        g.append((const char *)f.start, (size_t)(f.end - f.start));
        continue;
      }
      std::vector<pb_field> nf;
      pb_fields(f.sub, nf);
      std::string n;
      int inputs = 0;
      for (const pb_field &x : nf)
        if (x.no == 1 && x.sub.p && inputs++ == 3)
          put_bytes(n, 1, sizes_name.data(), sizes_name.size());
        else
          n.append((const char *)x.start, (size_t)(x.end - x.start));
      put_bytes(g, 1, n.data(), n.size());
    } else if (f.no == 12 && f.sub.p) {
      std::string name;
      std::vector<long> dims;
      value_info(f.sub, name, dims);
      if (name == want) g.append((const char *)f.start, (size_t)(f.end - f.start));
    } else {
      g.append((const char *)f.start, (size_t)(f.end - f.start));
    }
  }
  /* TensorProto: dims [4], data_type INT64 (7), name, raw_data (little-endian) */
  std::string t;
  put_varint(t, 1 << 3 | 0), put_varint(t, 4);
  put_varint(t, 2 << 3 | 0), put_varint(t, 7);
  put_bytes(t, 8, sizes_name.data(), sizes_name.size());
  uint8_t raw[32] = {0};
  const uint64_t sz[4] = {1, 1, (uint64_t)side, (uint64_t)side};
  for (int i = 0; i < 4; i++)
    for (int b = 0; b < 8; b++)
      raw[8 * i + b] = (uint8_t)(sz[i] >> (8 * b));
  put_bytes(t, 9, raw, sizeof raw);
  put_bytes(g, 5, t.data(), t.size());
  model.clear();
  for (const pb_field &f : mf)
    if (&f == graph)
      put_bytes(model, 7, g.data(), g.size());
    else
      model.append((const char *)f.start, (size_t)(f.end - f.start));
  output = want;
  return true;
}

/* ---- loading and running ------------------------------------------------ */

extern "C" int orf__net_load(const char *path, int threads, orf__net **out, char *err, size_t err_size) {
  *out = nullptr;
  FILE *f = fopen(path, "rb");
  if (!f) {
    say(err, err_size, "cannot open the segmentation model %s: %s", path, strerror(errno));
    return ORF__NET_EIO;
  }
  std::vector<uint8_t> buf;
  int rc = ORF__NET_OK;
  try {
    uint8_t chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && buf.size() <= MAX_MODEL_BYTES)
      buf.insert(buf.end(), chunk, chunk + n);
    if (ferror(f)) {
      say(err, err_size, "cannot read the segmentation model %s: %s", path, strerror(errno));
      rc = ORF__NET_EIO;
    }
  } catch (...) {
    say(err, err_size, "cannot read the segmentation model %s: %s", path, "out of memory");
    rc = ORF__NET_ENOMEM;
  }
  fclose(f);
  if (rc) return rc;
  if (buf.empty() || buf.size() > MAX_MODEL_BYTES) {
    say(err, err_size, "the segmentation model %s is %s, not an ONNX model", path,
        buf.empty() ? "empty" : "over 1 GiB");
    return ORF__NET_ESEGMENT;
  }
  orf__net *n = nullptr;
  try {
    n = new orf__net();
    int side = 0;
    onnx_io(buf.data(), buf.size(), side, n->output);
    n->side = side ? side : ORF_SEG_DEFAULT_SIDE;
    /* one thread: OpenCV's own sequential mode (0), no worker threads */
    cv::setNumThreads(threads == 1 ? 0 : threads > 1 ? threads : cv::getNumberOfCPUs());
    n->net = cv::dnn::readNetFromONNX((const char *)buf.data(), buf.size());
    if (n->net.empty()) throw std::runtime_error("the graph is empty");
    n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    n->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    std::vector<cv::String> outs = n->net.getUnconnectedOutLayersNames();
    if (outs.empty()) throw std::runtime_error("the graph has no output");
    if (n->output.empty() || std::find(outs.begin(), outs.end(), n->output) == outs.end())
      n->output = outs[0];
    /* the preview's graph is read here to know that OpenCV takes it, and
     * again for each run (orf__net_run says why) */
    if (preview_model(buf.data(), buf.size(), n->side, n->preview_model, n->preview_output)) {
      try {
        cv::dnn::Net check = cv::dnn::readNetFromONNX(n->preview_model.data(), n->preview_model.size());
        if (check.empty()) n->preview_model.clear();
      } catch (...) {
        n->preview_model.clear(); /* the previews use the full network */
      }
    }
  } catch (const std::exception &e) {
    /* OpenCV's messages span lines and name its own source files: keep the
     * part that says what is wrong. */
    std::string what = e.what();
    size_t at = what.find("error: ");
    if (at != std::string::npos) what = what.substr(at + 7);
    if (what.rfind("(-", 0) == 0 && (at = what.find(") ")) != std::string::npos) what = what.substr(at + 2);
    if ((at = what.find(" in function")) != std::string::npos) what.resize(at);
    std::replace(what.begin(), what.end(), '\n', ' ');
    if (what.size() > 200) what.resize(200);
    say(err, err_size, "the segmentation model %s is not an ONNX model OpenCV can run: %s", path,
        what.c_str());
    delete n;
    return ORF__NET_ESEGMENT;
  } catch (...) {
    say(err, err_size, "the segmentation model %s is not an ONNX model OpenCV can run: %s", path,
        "unknown error");
    delete n;
    return ORF__NET_ESEGMENT;
  }
  *out = n;
  return ORF__NET_OK;
}

extern "C" void orf__net_free(orf__net *n) {
  try {
    delete n;
  } catch (...) {
  }
}

extern "C" int orf__net_side(const orf__net *n) { return n->side; }

extern "C" int orf__net_has_preview(const orf__net *n) { return !n->preview_model.empty(); }

extern "C" int orf__net_run(orf__net *n, const uint8_t *rgba, uint32_t w, uint32_t h, int preview,
                            uint8_t *matte) {
  try {
    if (preview && n->preview_model.empty()) return ORF__NET_ESEGMENT;
    /* The preview network is built for its run and freed after it: OpenCV
     * keeps a network's layer buffers as long as the network (108 MB for
     * the preview, 158 MB for the full one, by RSS), and a preview is run
     * once per new image, just before the full network; built each time
     * (about 40 ms), the two never hold their buffers at once, and a
     * job's peak stays what the full network's was. */
    cv::dnn::Net fresh;
    if (preview) {
      fresh = cv::dnn::readNetFromONNX(n->preview_model.data(), n->preview_model.size());
      fresh.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      fresh.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    }
    cv::dnn::Net &net = preview ? fresh : n->net;
    const int s = n->side;
    cv::Mat src((int)h, (int)w, CV_8UC4, (void *)rgba), rgb, small, norm;
    cv::cvtColor(src, rgb, cv::COLOR_RGBA2RGB);
    cv::resize(rgb, small, cv::Size(s, s), 0, 0,
               w > (uint32_t)s || h > (uint32_t)s ? cv::INTER_AREA : cv::INTER_LINEAR);
    small.convertTo(norm, CV_32FC3, 1.0 / 255);
    cv::subtract(norm, cv::Scalar(0.485, 0.456, 0.406), norm);
    cv::divide(norm, cv::Scalar(0.229, 0.224, 0.225), norm);
    cv::Mat blob = cv::dnn::blobFromImage(norm); /* NCHW, no further scaling */
    net.setInput(blob);
    cv::Mat out = net.forward(preview ? n->preview_output : n->output);
    if (out.total() != (size_t)s * s || out.depth() != CV_32F) return ORF__NET_ESEGMENT;
    const float *o = out.ptr<float>();
    for (size_t i = 0; i < (size_t)s * s; i++) {
      float v = o[i] * 255.0f + 0.5f;
      matte[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    return ORF__NET_OK;
  } catch (const std::bad_alloc &) {
    return ORF__NET_ENOMEM;
  } catch (...) {
    return ORF__NET_ESEGMENT;
  }
}

/* The guided filter of src (CV_32F, 0..1) with img's colours as the guide,
 * at img's size, clamped to 0..255 into soft. */
static void guided_to(const cv::Mat &src, const uint8_t *pix, uint32_t w, uint32_t h, double scale,
                      uint8_t *soft) {
  cv::Mat rgba((int)h, (int)w, CV_8UC4, (void *)pix), rgb, guide, filtered;
  cv::cvtColor(rgba, rgb, cv::COLOR_RGBA2RGB);
  rgb.convertTo(guide, CV_32FC3, 1.0 / 255);
  int radius = (int)(2 * scale + 0.5) + 2;
  cv::ximgproc::guidedFilter(guide, src, filtered, radius, GUIDED_EPS, CV_32F);
  cv::Mat out((int)h, (int)w, CV_8UC1, soft);
  filtered.convertTo(out, CV_8U, 255.0); /* saturating */
}

extern "C" int orf__matte_upsample(const uint8_t *matte, uint32_t mw, uint32_t mh, const uint8_t *rgba,
                                   uint32_t w, uint32_t h, uint8_t *soft) {
  try {
    cv::Mat m((int)mh, (int)mw, CV_8UC1, (void *)matte), mf, up;
    m.convertTo(mf, CV_32F, 1.0 / 255);
    cv::Size to((int)w, (int)h);
    bool shrink = w < mw && h < mh;
    cv::resize(mf, up, to, 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    double scale = std::max((double)w / mw, (double)h / mh);
    guided_to(up, rgba, w, h, std::max(scale, 1.0), soft);
    return ORF__NET_OK;
  } catch (const std::bad_alloc &) {
    return ORF__NET_ENOMEM;
  } catch (...) {
    return ORF__NET_ESEGMENT;
  }
}

extern "C" int orf__matte_grabcut(const uint8_t *pix, uint32_t w, uint32_t h, const orf__seed *pts, int count,
                                  uint8_t *soft) {
  try {
    const int W = (int)w, H = (int)h;
    double k = std::min(1.0, (double)ORF_SEG_GRABCUT_SIDE / std::max(W, H));
    cv::Size sz(std::max(1, (int)(W * k + 0.5)), std::max(1, (int)(H * k + 0.5)));
    cv::Mat rgba(H, W, CV_8UC4, (void *)pix), rgb, small, m(H, W, CV_8UC1, soft), ms;
    cv::cvtColor(rgba, rgb, cv::COLOR_RGBA2RGB);
    cv::resize(rgb, small, sz, 0, 0, k < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::resize(m, ms, sz, 0, 0, k < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    /* GrabCut's own initialisation (a box: probable foreground inside,
     * probable background outside), the box around the keep points grown
     * by a quarter of the frame, so that the background's colour model
     * learns from what lies around them (the frame's border band stays
     * outside); the matte's subject is sure foreground, the points' discs
     * sure labels.  Margins chosen on the alphamat plant, where they give
     * IoU 0.90-0.93 for several choices of points (tests/test_segment.c). */
    int r = std::max(2, (int)(POINT_DISC_FRAC * std::max(sz.width, sz.height) + 0.5));
    int x0 = sz.width, y0 = sz.height, x1 = -1, y1 = -1;
    auto grow = [&](int x, int y) {
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    };
    for (int i = 0; i < count; i++)
      if (pts[i].keep) grow((int)(pts[i].x * (sz.width - 1) + 0.5), (int)(pts[i].y * (sz.height - 1) + 0.5));
    int mx = (int)(BOX_MARGIN * sz.width) + r, my = (int)(BOX_MARGIN * sz.height) + r;
    int band = std::max(1, (int)(BORDER_BAND * std::max(sz.width, sz.height)));
    x0 = std::max(band, x0 - mx), y0 = std::max(band, y0 - my);
    x1 = std::min(sz.width - 1 - band, x1 + mx), y1 = std::min(sz.height - 1 - band, y1 + my);
    cv::Mat labels(sz, CV_8UC1, cv::Scalar(cv::GC_PR_BGD));
    if (x1 >= x0 && y1 >= y0) labels(cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1)).setTo(cv::GC_PR_FGD);
    /* the matte's subject stays: points add to it (and drop points cut) */
    labels.setTo(cv::GC_FGD, ms >= 128);
    bool fg = false, bg = false;
    for (int i = 0; i < count; i++) {
      cv::Point c((int)(pts[i].x * (sz.width - 1) + 0.5), (int)(pts[i].y * (sz.height - 1) + 0.5));
      cv::circle(labels, c, r, pts[i].keep ? cv::GC_FGD : cv::GC_BGD, cv::FILLED);
      (pts[i].keep ? fg : bg) = true;
    }
    /* GrabCut needs both models: with no background left to learn one
     * from (the matte covers the frame), the matte stays as it is. */
    bool has_bg = bg || cv::countNonZero(labels == cv::GC_PR_BGD) > 0;
    if (!fg || !has_bg) return ORF__NET_OK;
    cv::Mat bgd, fgd;
    cv::grabCut(small, labels, cv::Rect(), bgd, fgd, GRABCUT_ITERS, cv::GC_INIT_WITH_MASK);
    cv::Mat f = (labels == cv::GC_FGD) | (labels == cv::GC_PR_FGD), ff, up;
    f.convertTo(ff, CV_32F, 1.0 / 255);
    cv::resize(ff, up, cv::Size(W, H), 0, 0, cv::INTER_LINEAR);
    guided_to(up, pix, w, h, std::max(1.0, 1.0 / k), soft);
    return ORF__NET_OK;
  } catch (const std::bad_alloc &) {
    return ORF__NET_ENOMEM;
  } catch (...) {
    return ORF__NET_ESEGMENT;
  }
}
