build-int/obj/src/mesh/adjacency.o: src/mesh/adjacency.c \
 src/mesh/adjacency.h include/orfeas.h src/core/alloc.h src/mesh/mesh.h
src/mesh/adjacency.h:
include/orfeas.h:
src/core/alloc.h:
src/mesh/mesh.h:
