/*
 * device.c - names of the devices and field precisions a job can ask for
 * (orf_device, orf_precision in orfeas.h), for the CLI, the server and logs.
 */
#include <string.h>

#include "orfeas.h"

static const char *const kDevices[] = {"auto", "cpu", "cuda"};
static const char *const kPrecisions[] = {"fp32", "fp16", "int8"};

const char *orf_device_name(orf_device d) { return (unsigned)d < 3 ? kDevices[d] : "unknown"; }

const char *orf_precision_name(orf_precision p) { return (unsigned)p < 3 ? kPrecisions[p] : "unknown"; }

int orf_device_from_name(const char *name, orf_device *out) {
  for (int i = 0; name && i < 3; i++)
    if (!strcmp(name, kDevices[i])) return *out = (orf_device)i, ORF_OK;
  return ORF_EINVAL;
}

int orf_precision_from_name(const char *name, orf_precision *out) {
  for (int i = 0; name && i < 3; i++)
    if (!strcmp(name, kPrecisions[i])) return *out = (orf_precision)i, ORF_OK;
  return ORF_EINVAL;
}
