build-int/obj/tests/test_export.o: tests/test_export.c src/core/alloc.h \
 src/export/export.h src/core/buf.h include/orfeas.h src/mesh/mesh.h \
 tests/testutil.h
src/core/alloc.h:
src/export/export.h:
src/core/buf.h:
include/orfeas.h:
src/mesh/mesh.h:
tests/testutil.h:
