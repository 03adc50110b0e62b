build-int/obj/src/mesh/smooth.o: src/mesh/smooth.c src/mesh/smooth.h \
 include/orfeas.h src/mesh/adjacency.h src/core/alloc.h \
 src/core/parallel.h
src/mesh/smooth.h:
include/orfeas.h:
src/mesh/adjacency.h:
src/core/alloc.h:
src/core/parallel.h:
