build-int/obj/src/image/components.o: src/image/components.c \
 src/image/components.h src/core/alloc.h include/orfeas.h
src/image/components.h:
src/core/alloc.h:
include/orfeas.h:
