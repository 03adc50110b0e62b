build-lead/obj/src/core/error.o: src/core/error.c include/orfeas.h \
 src/core/alloc.h
include/orfeas.h:
src/core/alloc.h:
