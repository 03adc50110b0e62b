build-mc/obj/tests/test_mc.o: tests/test_mc.c src/core/alloc.h \
 src/surface/mc.h include/orfeas.h src/surface/mc_tables.h \
 src/mesh/mesh.h
src/core/alloc.h:
src/surface/mc.h:
include/orfeas.h:
src/surface/mc_tables.h:
src/mesh/mesh.h:
