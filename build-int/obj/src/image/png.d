build-int/obj/src/image/png.o: src/image/png.c src/core/alloc.h \
 src/image/decode_int.h src/image/image.h include/orfeas.h
src/core/alloc.h:
src/image/decode_int.h:
src/image/image.h:
include/orfeas.h:
