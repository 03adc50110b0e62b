build-int/obj/tests/test_image.o: tests/test_image.c src/core/alloc.h \
 src/image/image.h include/orfeas.h tests/testutil.h
src/core/alloc.h:
src/image/image.h:
include/orfeas.h:
tests/testutil.h:
