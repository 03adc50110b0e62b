build-int/obj/src/image/mask.o: src/image/mask.c src/image/mask.h \
 src/image/image.h include/orfeas.h src/core/alloc.h \
 src/image/components.h src/core/parallel.h
src/image/mask.h:
src/image/image.h:
include/orfeas.h:
src/core/alloc.h:
src/image/components.h:
src/core/parallel.h:
