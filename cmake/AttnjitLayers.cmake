# Include isolation for the library's layers (DESIGN.md §2).
#
# Sources include each other by folder ("codegen/tile_config.h"). With the source root on every
# include path any folder could include any other; instead each layer gets an include root of its
# own, <build>/layers/<folder>/, that holds one link, <folder> -> the source folder. A layer target
# passes its root on (PUBLIC) to what links it, so a folder sees exactly the headers of the layers
# it links and an upward include fails to compile ("tuner/tuner.h: No such file or directory").
# tests/architecture/layering_test.cpp checks the same rule by reading the includes.

function(attnjit_layer_root folder out)
  set(root ${CMAKE_BINARY_DIR}/layers/${folder})
  set(link ${root}/${folder})
  set(points_to "")
  if(IS_SYMLINK ${link})
    file(READ_SYMLINK ${link} points_to)
  endif()
  # (Re)made when missing or pointing elsewhere (a build folder copied from another checkout).
  if(NOT points_to STREQUAL "${CMAKE_SOURCE_DIR}/${folder}")
    file(REMOVE ${link})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${link} SYMBOLIC)
  endif()
  set(${out} ${root} PARENT_SCOPE)
endfunction()

# attnjit_add_layer(<target> <folder> <sources>... LINKS <layers>...): a static library for one
# folder, exported as attnjit::<folder>, that links (PUBLIC) the layers below it.
function(attnjit_add_layer target folder)
  cmake_parse_arguments(PARSE_ARGV 2 L "" "" "LINKS")
  add_library(${target} STATIC ${L_UNPARSED_ARGUMENTS})
  attnjit_layer_root(${folder} root)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}>)
  target_link_libraries(${target} PUBLIC ${L_LINKS} $<BUILD_INTERFACE:attnjit_build_defs>)
  # GCC < 14 takes a designated initializer's omitted members (left to their defaults on
  # purpose) for forgotten ones (GCC PR 96868), so that one -Wextra warning is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${folder} OUTPUT_NAME ${target})
  set_property(GLOBAL APPEND PROPERTY ATTNJIT_LAYER_TARGETS ${target})
endfunction()
