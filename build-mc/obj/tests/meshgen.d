build-mc/obj/tests/meshgen.o: tests/meshgen.c tests/meshgen.h \
 include/orfeas.h src/mesh/mesh.h
tests/meshgen.h:
include/orfeas.h:
src/mesh/mesh.h:
