build-mc/obj/src/surface/mc.o: src/surface/mc.c src/surface/mc.h \
 include/orfeas.h src/core/alloc.h src/surface/mc_tables.h \
 src/core/parallel.h
src/surface/mc.h:
include/orfeas.h:
src/core/alloc.h:
src/surface/mc_tables.h:
src/core/parallel.h:
