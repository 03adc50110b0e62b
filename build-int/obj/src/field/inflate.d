build-int/obj/src/field/inflate.o: src/field/inflate.c \
 src/field/inflate.h include/orfeas.h src/core/alloc.h src/field/edt.h \
 src/surface/mc.h src/core/parallel.h src/field/poisson.h
src/field/inflate.h:
include/orfeas.h:
src/core/alloc.h:
src/field/edt.h:
src/surface/mc.h:
src/core/parallel.h:
src/field/poisson.h:
