build-int/obj/src/image/downscale.o: src/image/downscale.c \
 src/core/alloc.h src/image/image.h include/orfeas.h
src/core/alloc.h:
src/image/image.h:
include/orfeas.h:
