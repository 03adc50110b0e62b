build-int/obj/src/field/edt.o: src/field/edt.c src/field/edt.h \
 src/core/alloc.h include/orfeas.h src/core/parallel.h
src/field/edt.h:
src/core/alloc.h:
include/orfeas.h:
src/core/parallel.h:
