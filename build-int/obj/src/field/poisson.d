build-int/obj/src/field/poisson.o: src/field/poisson.c \
 src/field/poisson.h src/core/alloc.h include/orfeas.h \
 src/core/parallel.h
src/field/poisson.h:
src/core/alloc.h:
include/orfeas.h:
src/core/parallel.h:
