# tests/variants: the emulator cases need the shadow template folder of tests/emu first on the
# include path (tests/emu/emu_shadow.cmake, included before this file).
if(TARGET test_variants AND DEFINED emu_shadow)
  target_include_directories(test_variants BEFORE PRIVATE ${emu_shadow})
endif()
