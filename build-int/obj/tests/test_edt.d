build-int/obj/tests/test_edt.o: tests/test_edt.c src/core/alloc.h \
 src/field/edt.h include/orfeas.h
src/core/alloc.h:
src/field/edt.h:
include/orfeas.h:
