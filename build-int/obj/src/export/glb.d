build-int/obj/src/export/glb.o: src/export/glb.c src/core/alloc.h \
 src/export/export.h src/core/buf.h include/orfeas.h src/mesh/mesh.h
src/core/alloc.h:
src/export/export.h:
src/core/buf.h:
include/orfeas.h:
src/mesh/mesh.h:
