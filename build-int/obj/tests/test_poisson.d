build-int/obj/tests/test_poisson.o: tests/test_poisson.c \
 src/field/poisson.h
src/field/poisson.h:
