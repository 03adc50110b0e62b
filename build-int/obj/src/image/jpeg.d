build-int/obj/src/image/jpeg.o: src/image/jpeg.c src/core/alloc.h \
 src/image/decode_int.h src/image/image.h include/orfeas.h
src/core/alloc.h:
src/image/decode_int.h:
src/image/image.h:
include/orfeas.h:
