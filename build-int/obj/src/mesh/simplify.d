build-int/obj/src/mesh/simplify.o: src/mesh/simplify.c \
 src/mesh/simplify.h include/orfeas.h src/mesh/adjacency.h \
 src/core/alloc.h src/mesh/mesh.h
src/mesh/simplify.h:
include/orfeas.h:
src/mesh/adjacency.h:
src/core/alloc.h:
src/mesh/mesh.h:
