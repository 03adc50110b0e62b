build-mc/obj/bench/bench_mc.o: bench/bench_mc.c src/surface/mc.h \
 include/orfeas.h src/core/parallel.h
src/surface/mc.h:
include/orfeas.h:
src/core/parallel.h:
