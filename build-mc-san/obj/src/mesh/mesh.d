build-mc-san/obj/src/mesh/mesh.o: src/mesh/mesh.c src/mesh/mesh.h \
 include/orfeas.h src/core/alloc.h
src/mesh/mesh.h:
include/orfeas.h:
src/core/alloc.h:
