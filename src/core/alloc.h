/*
 * alloc.h - the engine's allocator, with per-job accounting, as engine
 * files include it.  Its declarations are part of the public interface
 * (include/orfeas.h, "memory accounting"), because the server accounts its
 * own memory with them; this header adds nothing to them.
 */
#ifndef ORF_ALLOC_H
#define ORF_ALLOC_H

#include "orfeas.h"

#endif
