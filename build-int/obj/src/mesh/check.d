build-int/obj/src/mesh/check.o: src/mesh/check.c src/mesh/adjacency.h \
 include/orfeas.h src/core/alloc.h src/mesh/mesh.h
src/mesh/adjacency.h:
include/orfeas.h:
src/core/alloc.h:
src/mesh/mesh.h:
