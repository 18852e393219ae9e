"""Datasets shipped with vimvision (the embedded default for demos and CI) and the classification loaders."""
from .digits import Digits
from .loaders import check_image_folder, create_eval_loader, create_train_loader, folder_class_map

__all__ = ["Digits", "check_image_folder", "create_eval_loader", "create_train_loader", "folder_class_map"]
