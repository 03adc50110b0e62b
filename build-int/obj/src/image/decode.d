build-int/obj/src/image/decode.o: src/image/decode.c src/core/alloc.h \
 src/image/decode_int.h src/image/image.h include/orfeas.h
src/core/alloc.h:
src/image/decode_int.h:
src/image/image.h:
include/orfeas.h:
