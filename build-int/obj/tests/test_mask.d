build-int/obj/tests/test_mask.o: tests/test_mask.c src/core/alloc.h \
 src/image/mask.h src/image/image.h include/orfeas.h tests/testutil.h
src/core/alloc.h:
src/image/mask.h:
src/image/image.h:
include/orfeas.h:
tests/testutil.h:
